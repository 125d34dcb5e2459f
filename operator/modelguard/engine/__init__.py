"""The operator's engine: the per-object work queue, the watch cache and the runtime object."""

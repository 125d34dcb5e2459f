"""ModelGuard: a Kubernetes operator for AI models under ETSI TS 104 223 / EN 304 223."""

__version__ = "0.1.0"

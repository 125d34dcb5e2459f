"""Kopf wiring only: watch events feed the runtime; everything else lives below."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from modelguard.adapters.cache import Key
from modelguard.adapters.kube_connection import Connection
from modelguard.api.base import GROUP
from modelguard.api.kinds import CHILDREN, WATCHED
from modelguard.builders.labels import MANAGED_BY
from modelguard.domain.drift import cache_view, secret_view
from modelguard.engine.runtime import Runtime
from modelguard.handlers import admission


def configure(settings: kopf.OperatorSettings) -> None:
    """Keep Kopf's bookkeeping out of our objects' status, under our own annotation prefix."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.peering.clusterwide = True  # one ClusterKopfPeering, also when serving a list of namespaces
    settings.posting.level = 20  # INFO and above become Events only when we post them ourselves
    settings.posting.enabled = False
    # Children are watched through a label selector the API server applies: the operator never receives other
    # teams' Deployments, ConfigMaps or Secrets (less CPU and memory on both sides of the watch, no Secret of
    # anyone else in this process). An object whose label is taken off leaves the selection, and the API server
    # reports that as DELETED, so its owner is reconciled and the label put back: a handler-side label filter
    # would drop that event (its body no longer has the label) and leave a stale copy in the cache.
    for res in CHILDREN:
        settings.watching.label_selectors[res.group, res.version, res.plural] = f"{MANAGED_BY}=modelguard"
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.queueing.error_delays = (1, 2, 5, 10, 20, 30)


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        """Kopf uses the very credentials the operator's own client was built with."""
        return connection_info(runtime.kube.connection)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings)
        settings.peering.lifetime = runtime.settings.peering_lifetime
        server = admission.webhook_server(runtime)
        if server is not None:
            settings.admission.server = server  # the configuration itself ships in the chart
        await runtime.start()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await runtime.stop()

    if runtime.settings.webhook_port is not None:  # without a server Kopf refuses admission handlers
        admission.register(registry, runtime)
    for res in WATCHED:
        kopf.on.event(res.group, res.version, res.plural, registry=registry, id=f"observe-{res.plural}")(
            _observer(runtime, res.kind)
        )
    kopf.on.event("", "v1", "namespaces", registry=registry, id="observe-namespaces")(
        _observer(runtime, "Namespace", keep=("metadata",))
    )
    for res in CHILDREN:  # label-selected by the API server (configure): no client-side filter, see there
        transform = secret_view if res.kind == "Secret" else None
        kopf.on.event(res.group, res.version, res.plural, registry=registry, id=f"observe-{res.plural}")(
            _observer(runtime, res.kind, transform=transform, foreign=True)
        )
    return registry


def connection_info(conn: Connection) -> kopf.ConnectionInfo:
    token = conn.bearer_token()  # a rotating token file is read again at each login
    return kopf.ConnectionInfo(
        server=conn.server,
        ca_path=conn.ca_path,
        ca_data=conn.ca_data,
        insecure=conn.insecure,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=conn.certificate_path,
        certificate_data=conn.certificate_data,
        private_key_path=conn.private_key_path,
        private_key_data=conn.private_key_data,
    )


def _observer(
    runtime: Runtime,
    kind: str,
    keep: tuple[str, ...] = (),
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    foreign: bool = False,
) -> Callable[..., Awaitable[None]]:
    """Feed watch events to the runtime; `keep` or `transform` limit what is cached; `foreign` keeps which
    fields other field managers own (managed children: drift)."""

    async def observe(type: str | None, name: str, namespace: str | None, body: kopf.Body, **_: Any) -> None:
        data = cache_view({k: v for k, v in body.items() if not keep or k in keep}, foreign=foreign)
        if transform is not None:
            data = transform(data)
        runtime.observe(Key(kind, namespace or "", name), None if type == "DELETED" else data)

    return observe

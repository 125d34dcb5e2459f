"""The refusal collector (ADR 0018): gateways send a syslog datagram for every request they refuse (401, 429);
this receives them on UDP, attributes each to an AIDeployment by the address it came from, counts it per
client in metrics and records one `GatewayAbuse` audit record per abused AIDeployment and window.

Attribution asks the API server which running pod has the source address (pod metadata only, never specs):
it must be one of ModelGuard's model-server pods, and the AIDeployment its labels name must exist in the
pod's own namespace. A tenant's pod can therefore only ever report refusals of its own namespace's
deployments, and a datagram from anywhere else is dropped (counted). Every table is bounded: the queue,
the attribution cache, the clients per deployment (domain/gateway_abuse.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from modelguard.adapters.audit_log import AuditLog, AuditUnavailable
from modelguard.adapters.kube import Kube, KubeError
from modelguard.adapters.metrics import Metrics
from modelguard.adapters.resources import AIDEPLOYMENTS, PODS
from modelguard.builders.labels import COMPONENT, DEPLOYMENT_LABEL
from modelguard.domain import gateway_abuse
from modelguard.domain.gateway_abuse import ClientLabels, SourceBudget, Tally, Target

log = logging.getLogger(__name__)

QUEUE = 10_000  # datagrams waiting to be counted; more are dropped (and counted as overload)
ATTRIBUTION_TTL = 30.0  # seconds an address is known to belong to a deployment's pod (or to none)
ATTRIBUTIONS_KEPT = 4096
FAILED_TTL = 5.0  # seconds an address whose lookup failed counts as nobody's
RECORDS_PER_WINDOW = 50  # deployments recorded per window; the others carry over to the next
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
SERVING_POD = f"{COMPONENT}=model-server,{DEPLOYMENT_LABEL}"


def attribute(pods: Sequence[Mapping[str, Any]]) -> Target | None:
    """The deployment whose gateway owns an address, from the metadata of the running pods that have it: one
    model-server pod of a ReplicaSet (as the operator's Deployment makes them), or nobody."""
    if len(pods) != 1:
        return None  # none, or an address two pods claim: refuse to guess
    meta = pods[0].get("metadata") or {}
    deployment = (meta.get("labels") or {}).get(DEPLOYMENT_LABEL)
    owners = meta.get("ownerReferences") or []
    if not deployment or not any(o.get("kind") == "ReplicaSet" and o.get("controller") for o in owners):
        return None
    return Target(str(meta.get("namespace")), str(deployment))


class Attribution:
    """Source address -> AIDeployment, through the API server, remembered for ATTRIBUTION_TTL seconds."""

    def __init__(self, kube: Kube, namespaces: Sequence[str] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self._kube, self._namespaces, self._clock = kube, tuple(namespaces), clock
        self._known: OrderedDict[str, tuple[float, Target | None]] = OrderedDict()

    async def target(self, address: str) -> Target | None:
        now = self._clock()
        known = self._known.get(address)
        if known is not None and known[0] > now:
            return known[1]
        try:
            target = await self._lookup(address)
        except KubeError:  # not asked again for a few seconds: a failing API server gets no flood of lookups
            self._remember(address, now + FAILED_TTL, None)
            raise
        self._remember(address, now + ATTRIBUTION_TTL, target)
        return target

    def _remember(self, address: str, until: float, target: Target | None) -> None:
        self._known[address] = (until, target)
        self._known.move_to_end(address)
        while len(self._known) > ATTRIBUTIONS_KEPT:
            self._known.popitem(last=False)

    async def _lookup(self, address: str) -> Target | None:
        query = [
            ("fieldSelector", f"status.podIP={address},spec.hostNetwork=false,status.phase=Running"),
            ("labelSelector", SERVING_POD),
        ]
        pods: list[dict[str, Any]] = []
        for namespace in self._namespaces or (None,):
            found = await self._kube.request("GET", PODS.path(namespace), query=query, accept=METADATA_LIST)
            pods += found.get("items") or []
        target = attribute(pods)
        if target is None:
            return None
        body = await self._kube.get(AIDEPLOYMENTS, target.namespace, target.deployment)
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            return None
        return target


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, str], None]) -> None:
        self._received = received

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._received(data, str(addr[0]))


class GatewayEvents:
    """Receives, counts and records gateway refusals; `start` binds the UDP port, `stop` records what is left."""

    def __init__(
        self,
        attribution: Attribution,
        metrics: Metrics,
        audit: AuditLog | None,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 (in a pod; the chart's NetworkPolicy limits who reaches it)
        window: float = 60.0,
    ) -> None:
        self._attribution, self._metrics, self._audit = attribution, metrics, audit
        self._host, self.port, self.window = host, port, window
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE)
        self.tally = Tally()
        self._labels = ClientLabels()
        self._budget = SourceBudget()
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._received), local_addr=(self._host, self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        self._tasks = [asyncio.create_task(self._count()), asyncio.create_task(self._record_every_window())]
        log.info("collecting gateway refusals on udp %s:%d, recorded every %.0fs", self._host, self.port, self.window)

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(AuditUnavailable):
            await self.record()

    def _received(self, data: bytes, address: str) -> None:
        if not self._budget.take(address, time.monotonic()):
            self._metrics.gateway_events_dropped.labels("overload").inc()
            return
        try:
            self._queue.put_nowait((address, data))
        except asyncio.QueueFull:
            self._metrics.gateway_events_dropped.labels("overload").inc()

    async def _count(self) -> None:
        while True:
            address, data = await self._queue.get()
            try:
                await self.count(address, data)
            except KubeError as exc:  # the API server did not answer: this datagram is lost, the next may not be
                self._metrics.gateway_events_dropped.labels("unattributed").inc()
                log.warning("could not attribute a gateway refusal from %s: %s", address, exc)
            except Exception:  # a bug must not end the counting for the operator's life
                self._metrics.gateway_events_dropped.labels("error").inc()
                log.exception("could not count a gateway refusal from %s", address)

    async def count(self, address: str, data: bytes) -> Target | None:
        """Count one datagram; the deployment it was attributed to, or None when it was dropped."""
        refusal = gateway_abuse.parse(data)
        if refusal is None:
            self._metrics.gateway_events_dropped.labels("malformed").inc()
            return None
        target = await self._attribution.target(address)
        if target is None:
            self._metrics.gateway_events_dropped.labels("unattributed").inc()
            return None
        client = self._labels.label(target, refusal.client)
        self._metrics.gateway_refusals.labels(target.namespace, target.deployment, client, refusal.reason).inc()
        self.tally.add(target, refusal)
        return target

    async def _record_every_window(self) -> None:
        while True:
            await asyncio.sleep(self.window)
            try:
                await self.record()
            except Exception as exc:  # kept for the next window; the recording goes on for the operator's life
                log.warning("gateway refusals kept for the next window: %s", exc)

    async def record(self) -> int:
        """One audit record per deployment with refusals since the last (at most RECORDS_PER_WINDOW; the rest
        wait for the next window); what cannot be committed is kept. The number of records committed."""
        drained = self.tally.drain(RECORDS_PER_WINDOW)
        if not drained or self._audit is None:
            return 0
        entries = [gateway_abuse.entry(target, window, round(self.window)) for target, window in drained]
        try:
            await self._audit.append(entries)
        except Exception:
            self.tally.restore(drained)
            raise
        return len(entries)

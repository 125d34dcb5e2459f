"""The runtime object built once at start-up and passed down: no module-level mutable globals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelguard.adapters.audit_log import AuditLog, HttpSink
from modelguard.adapters.cache import Key, Store
from modelguard.adapters.events import EventRecorder
from modelguard.adapters.gateway_events import Attribution, GatewayEvents
from modelguard.adapters.http import HttpClient
from modelguard.adapters.kube import Kube
from modelguard.adapters.resources import SERVICES
from modelguard.adapters.signing_key import OperatorKey
from modelguard.adapters.source_slots import SourceSlots
from modelguard.adapters.verification_service import ModelVerifier, ssl_context
from modelguard.builders.network import EventsRoute, events_route
from modelguard.builders.workload import DEFAULT_GATEWAY_IMAGE
from modelguard.domain.errors import Deferred, Retry
from modelguard.domain.ocsf import SinkFormat
from modelguard.domain.tenancy import DEFAULT_TENANT_LABEL, Tenant, tenant_of
from modelguard.engine.workqueue import WorkQueue
from modelguard.reconcilers import aideployment, aimodel, approvals, compliance_report, trustpolicy
from modelguard.reconcilers.context import Context

log = logging.getLogger(__name__)

Reconcile = Callable[[Context, Key], Awaitable[float | None]]

CHILD_KINDS = frozenset({"Deployment", "Service", "ServiceAccount", "ConfigMap", "Secret", "NetworkPolicy"})

RECONCILERS: dict[str, Reconcile] = {
    "AIModel": aimodel.reconcile,
    "AIDeployment": aideployment.reconcile,
    "TrustPolicy": trustpolicy.reconcile,
    "ComplianceReport": compliance_report.reconcile,
}
REPORTS = "compliance-reports"  # the index of every ComplianceReport
EVENTS_SERVICE_ATTEMPTS, EVENTS_SERVICE_WAIT = 10, 3.0
EVIDENCE_KINDS = frozenset({"AIModel", "AIDeployment", "TrustPolicy"})  # a change makes ComplianceReports stale


def _model_ref(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    name = (body.get("spec") or {}).get("modelRef", {}).get("name")
    return [f"{key.namespace}/{name}"] if isinstance(name, str) else []


def _owner_ref(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "AIDeployment" and ref.get("controller"):
            return [str(ref.get("name"))]
    return []


def _approved_deployment(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    name = (body.get("spec") or {}).get("deployment")
    return [f"{key.namespace}/{name}"] if isinstance(name, str) else []


def _policy_ref(key: Key, body: Mapping[str, Any]) -> Iterable[str]:
    name = (body.get("spec") or {}).get("trustPolicy")
    return [name] if isinstance(name, str) else []


@dataclass
class Settings:
    """Operator settings (from the command line or environment)."""

    namespace: str = "modelguard-system"
    workers: int = 8
    image: str = "ghcr.io/modelguard/operator:0.1.0"
    gateway_image: str = DEFAULT_GATEWAY_IMAGE
    monitoring_namespace: str | None = "monitoring"
    file_roots: tuple[Path, ...] = ()
    ca_bundle: Path | None = None
    plain_http_registries: tuple[str, ...] = ()
    hash_workers: int | None = None
    enabled_namespace_label: str | None = None  # deploy only where this namespace label is "true"
    source_slots: int = 4  # source work (fetch, verify, scan) at once in the operator
    source_slots_per_tenant: int = 2  # ... and for one tenant
    tenant_label: str | None = DEFAULT_TENANT_LABEL  # the Namespace label naming its tenant (None: each its own)
    fetch_deadline: float = 60.0  # a signature, an SBOM, a registry call
    verify_deadline: float = 3600.0  # downloading and hashing a whole model
    advisories_configmap: str | None = "modelguard-advisories"
    metrics_port: int | None = None
    decommission_step_delay: float = 0.0
    peering_lifetime: int = 60
    metrics_host: str = "0.0.0.0"  # noqa: S104 (in a pod; the chart's NetworkPolicy limits it)
    webhook_port: int | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 (in a pod; tests pass 127.0.0.1)
    webhook_cert: Path | None = None
    webhook_key: Path | None = None
    audit_sink: str | None = None
    audit_sink_token_file: Path | None = None
    audit_sink_format: SinkFormat = "modelguard"
    watch_namespaces: tuple[str, ...] = ()  # () = all
    # the refusal collector (ADR 0018): the UDP port it listens on, and where gateways send to: a Service
    # (NAMESPACE/NAME, its ClusterIP and UDP port, its pods as NetworkPolicy peer) or an IP:port (tests, demo)
    gateway_events_port: int | None = None
    gateway_events_host: str = "0.0.0.0"  # noqa: S104 (in a pod; tests pass 127.0.0.1)
    gateway_events_service: str | None = None
    gateway_events_address: str | None = None
    gateway_events_window: float = 60.0


@dataclass
class Runtime:
    kube: Kube
    settings: Settings = field(default_factory=Settings)
    store: Store = field(default_factory=Store)
    queue: WorkQueue[Key] = field(init=False)
    context: Context = field(init=False)

    def __post_init__(self) -> None:
        verifier = ModelVerifier.create(
            file_roots=self.settings.file_roots,
            ca_bundle=self.settings.ca_bundle,
            plain_http_registries=self.settings.plain_http_registries,
            workers=self.settings.hash_workers,
            slots=SourceSlots(self.settings.source_slots_per_tenant, self.settings.source_slots, tenant_of=self.tenant),
            fetch_deadline=self.settings.fetch_deadline,
            verify_deadline=self.settings.verify_deadline,
        )
        key = OperatorKey(self.kube, self.settings.namespace)
        self.context = Context(
            kube=self.kube,
            store=self.store,
            events=EventRecorder(self.kube),
            verifier=verifier,
            operator_namespace=self.settings.namespace,
            operator_image=self.settings.image,
            gateway_image=self.settings.gateway_image,
            ca_bundle_pem=self.settings.ca_bundle.read_text() if self.settings.ca_bundle else None,
            monitoring_namespace=self.settings.monitoring_namespace,
            advisories_configmap=self.settings.advisories_configmap,
            operator_key=key,
            decommission_step_delay=self.settings.decommission_step_delay,
            enabled_namespace_label=self.settings.enabled_namespace_label,
            audit=AuditLog(
                self.kube, self.settings.namespace, key, sink=self._audit_sink(), on_commit=self._audit_committed
            ),
        )
        self.kube.observe = self.context.metrics.api_request
        metrics = self.context.metrics
        self.queue = WorkQueue(
            self._dispatch,
            workers=self.settings.workers,
            name="reconcile",
            on_wait=metrics.queue_wait.observe,
            shard=lambda key: self.tenant(key.namespace),  # fair across tenants, however many namespaces each has
        )
        metrics.queue_depth.set_function(lambda: len(self.queue))
        metrics.source_slots.set_function(lambda: verifier.slots.in_use)
        metrics.source_waiting.set_function(verifier.slots.waiting)
        audit = self.context.audit
        if audit is not None:
            metrics.audit_backlog.set_function(audit.backlog)
        verifier.slots.wake = self.queue.add  # type: ignore[assignment]
        self.store.add_index("deployments-by-model", "AIDeployment", _model_ref)
        self.store.add_index("models-by-policy", "AIModel", _policy_ref)
        self.store.add_index(approvals.INDEX, "ModelApproval", _approved_deployment)
        self.store.add_index("models-by-namespace", "AIModel", lambda key, _: [key.namespace])
        self.store.add_index("deployments-by-namespace", "AIDeployment", lambda key, _: [key.namespace])
        self.store.add_index(REPORTS, "ComplianceReport", lambda key, _: [REPORTS])  # O(1) on every change
        s = self.settings
        self.gateway_events = (
            GatewayEvents(
                Attribution(self.kube, s.watch_namespaces),
                metrics,
                self.context.audit,
                s.gateway_events_port,
                s.gateway_events_host,
                s.gateway_events_window,
            )
            if s.gateway_events_port is not None
            else None
        )

    def _audit_committed(self, seconds: float, records: int) -> None:
        self.context.metrics.audit_commit_duration.observe(seconds)
        self.context.metrics.audit_records.inc(records)

    def _audit_sink(self) -> HttpSink | None:
        s = self.settings
        if not s.audit_sink:
            return None
        token = s.audit_sink_token_file.read_text().strip() if s.audit_sink_token_file else None
        client = HttpClient(ssl_context(s.ca_bundle), timeout=10.0)
        return HttpSink(s.audit_sink, client, token, s.audit_sink_format)

    async def start(self) -> None:
        """Start what runs beside the watchers: the audit log, the workers and the metrics endpoint."""
        if self.context.audit is not None:
            await self.context.audit.start()
        if self.settings.metrics_port is not None:
            self.context.metrics.serve(self.settings.metrics_port, self.settings.metrics_host)
        await self._route_gateway_events()
        self.queue.start()

    async def _route_gateway_events(self) -> None:
        """Start the refusal collector and tell the gateways where it is, before any gateway is configured."""
        s = self.settings
        if self.gateway_events is not None:
            await self.gateway_events.start()
        if s.gateway_events_service:
            namespace, _, name = s.gateway_events_service.rpartition("/")
            for attempt in range(EVENTS_SERVICE_ATTEMPTS):  # Helm and Argo CD create it beside the operator
                body = await self.kube.get(SERVICES, namespace or s.namespace, name)
                if body is not None or attempt == EVENTS_SERVICE_ATTEMPTS - 1:
                    break
                log.info("waiting for the gateway events Service %s", s.gateway_events_service)
                await asyncio.sleep(EVENTS_SERVICE_WAIT)
            self.context.gateway_events = events_route(body, s.gateway_events_service)
        elif s.gateway_events_address:
            self.context.gateway_events = EventsRoute(s.gateway_events_address)

    async def stop(self) -> None:
        await self.queue.stop()
        if self.gateway_events is not None:
            await self.gateway_events.stop()
        self.context.verifier.shutdown()
        if self.context.audit is not None:
            await self.context.audit.stop()

    async def _dispatch(self, key: Key) -> float | None:
        reconcile = RECONCILERS.get(key.kind)
        if reconcile is None:
            return None
        deleting = bool(((self.store.get(key) or {}).get("metadata") or {}).get("deletionTimestamp"))
        if self._terminating(key.namespace) and not deleting:
            return None  # nothing can be created there; objects being deleted still finish their decommission
        started = time.monotonic()
        try:
            return await reconcile(self.context, key)
        except Deferred:
            raise  # waiting for capacity is not an error
        except Exception as exc:
            reason = exc.reason if isinstance(exc, Retry) else type(exc).__name__
            self.context.metrics.reconcile_errors.labels(key.kind, reason).inc()
            raise
        finally:
            self.context.metrics.reconcile_duration.labels(key.kind).observe(time.monotonic() - started)

    def tenant(self, namespace: str) -> Tenant:
        """Whose `namespace` is: the tenant label a cluster admin set on it (from the watch cache), else itself."""
        body = self.store.get(Key("Namespace", "", namespace)) or {}
        return tenant_of(namespace, (body.get("metadata") or {}).get("labels"), self.settings.tenant_label)

    def _terminating(self, namespace: str) -> bool:
        """Nothing can be created in a namespace being deleted; its objects go with it."""
        if not namespace:
            return False
        body = self.store.get(Key("Namespace", "", namespace)) or {}
        return bool((body.get("metadata") or {}).get("deletionTimestamp"))

    def observe(self, key: Key, body: Mapping[str, Any] | None) -> None:
        """Feed one watch event (body None for a deletion) and enqueue whatever it affects."""
        affected = set(self.dependents(key))
        if body is None:
            self.store.remove(key)
            self.queue.forget(key)
            self.context.written.pop(key, None)
            self.context.child_writes.pop(key, None)
        else:
            self.store.upsert(key, body)
            affected.update(self.dependents(key))
            if key.kind in RECONCILERS:
                self.queue.add(key)
        for dependent in sorted(affected):
            self.queue.add(dependent)
        if key.kind in EVIDENCE_KINDS:
            self._evidence_changed()

    def _evidence_changed(self) -> None:
        """The first change after a ComplianceReport was generated wakes it (it then waits out its minimum
        gap); later changes only move the mark, so a busy cluster does not flood the queue."""
        ctx = self.context
        ctx.evidence_changed = time.time()  # sub-second: ctx.clock() keeps whole seconds
        for report in self.store.lookup(REPORTS, REPORTS):
            if report.name not in ctx.reports_woken:
                ctx.reports_woken.add(report.name)
                self.queue.add(report)

    def dependents(self, key: Key) -> list[Key]:
        if key.kind == "AIModel":
            return self.store.lookup("deployments-by-model", f"{key.namespace}/{key.name}")
        if key.kind == "TrustPolicy":  # its models, and their deployments (approval requirements)
            models = self.store.lookup("models-by-policy", key.name)
            deployments = [d for m in models for d in self.dependents(m)]
            return [*models, *deployments]
        if key.kind == "Namespace":
            return [
                *self.store.lookup("models-by-namespace", key.name),
                *self.store.lookup("deployments-by-namespace", key.name),
            ]
        if key.kind == "ModelApproval":
            named = _approved_deployment(key, self.store.get(key) or {})
            return [Key("AIDeployment", key.namespace, n.split("/", 1)[1]) for n in named]
        if key.kind in CHILD_KINDS:
            owner = _owner_ref(key, self.store.get(key) or {})
            return [Key("AIDeployment", key.namespace, name) for name in owner]
        return []

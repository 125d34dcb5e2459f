"""Prometheus metrics of the operator, served on /metrics (prometheus-client)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from modelguard import __version__

SEVERITIES = ("critical", "high", "medium", "low")


def resource_of(path: str) -> str:
    """`deployments`, `aimodels/status`, ... from an API path (bounded label values: no names)."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]  # drop api/v1 or apis/<group>/<version>
    if parts[:1] == ["namespaces"] and len(parts) > 2:
        parts = parts[2:]
    if not parts:
        return "unknown"
    return parts[0] + (f"/{parts[2]}" if len(parts) > 2 else "")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.scan_duration = Histogram(
            "modelguard_scan_duration_seconds",
            "Duration of maintenance scans.",
            ["result"],
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800),
        )
        self.findings = Gauge(
            "modelguard_scan_findings",
            "Findings of the last scan of a model, by severity.",
            ["namespace", "model", "severity"],
            registry=r,
        )
        self.last_scan = Gauge(
            "modelguard_scan_last_timestamp_seconds",
            "When the last scan of a model finished.",
            ["namespace", "model"],
            registry=r,
        )
        self.scans = Counter("modelguard_scans_total", "Scans run, by result.", ["result"], registry=r)
        self.scans_running = Gauge("modelguard_scans_running", "Scans running now.", registry=r)
        self.scans_peak = Gauge("modelguard_scans_running_peak", "Most scans ever running at once.", registry=r)
        self.quarantines = Counter(
            "modelguard_quarantines_total", "Deployments quarantined.", ["namespace"], registry=r
        )
        self.verifications = Counter(
            "modelguard_verifications_total", "Model verifications, by outcome reason.", ["reason"], registry=r
        )
        self.api_requests = Counter(
            "modelguard_api_requests_total",
            "Requests of the operator to the Kubernetes API, by verb and resource[/subresource].",
            ["verb", "resource"],
            registry=r,
        )
        # "is it healthy and how fast" (docs/metrics.md)
        self.build_info = Gauge("modelguard_build_info", "The running operator's version.", ["version"], registry=r)
        self.build_info.labels(__version__).set(1)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):  # what the default registry has
            r.register(collector)
        self.verification_duration = Histogram(
            "modelguard_verification_duration_seconds",
            "Duration of completed model verifications (fetch and hash), by outcome.",
            ["outcome"],
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
        )
        self.verified_bytes = Counter("modelguard_verified_bytes_total", "Model bytes hashed and verified.", registry=r)
        self.reconcile_duration = Histogram(
            "modelguard_reconcile_duration_seconds",
            "Duration of reconciles, by kind.",
            ["kind"],
            registry=r,
            buckets=(0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300),
        )
        self.reconcile_errors = Counter(
            "modelguard_reconcile_errors_total",
            "Reconciles that failed (retried), by kind and reason.",
            ["kind", "reason"],
            registry=r,
        )
        self.queue_depth = Gauge("modelguard_workqueue_depth", "Keys waiting in the work queue.", registry=r)
        self.queue_wait = Histogram(
            "modelguard_workqueue_wait_seconds",
            "Time from a key being queued to a worker taking it.",
            registry=r,
            buckets=(0.001, 0.01, 0.05, 0.2, 1, 5, 30, 120),
        )
        self.webhook_duration = Histogram(
            "modelguard_webhook_duration_seconds",
            "Time the admission webhooks take to answer, by hook.",
            ["hook"],
            registry=r,
            buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.5, 1, 5),
        )
        self.webhook_rejections = Counter(
            "modelguard_webhook_rejections_total", "Admission requests refused, by hook.", ["hook"], registry=r
        )
        self.audit_commit_duration = Histogram(
            "modelguard_audit_commit_duration_seconds",
            "Time one commit of the audit chain takes (the ConfigMap write, a retry after another replica's commit "
            "included); admissions wait for it.",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.audit_records = Counter(
            "modelguard_audit_records_committed_total",
            "Audit records committed (records per commit = this rate / the commit rate: the group commit's batch).",
            registry=r,
        )
        self.audit_backlog = Gauge(
            "modelguard_audit_sink_backlog", "Committed audit records the HTTP sink has not confirmed.", registry=r
        )
        self.compliance = Gauge(
            "modelguard_compliance_provisions",
            "Provisions of ETSI TS 104 223 per status and lifecycle phase, in the last regeneration of a "
            "ComplianceReport.",
            ["report", "phase", "status"],
            registry=r,
        )
        self.gateway_refusals = Counter(
            "modelguard_gateway_refusals_total",
            "Requests a gateway refused, per AIDeployment, client and reason (unauthenticated: no or a wrong API "
            "key, client '-'; rate-limited: over the client's limit). Client 'other' beyond 50 per deployment.",
            ["namespace", "deployment", "client", "reason"],
            registry=r,
        )
        self.gateway_events_dropped = Counter(
            "modelguard_gateway_events_dropped_total",
            "Refusal datagrams not counted: malformed, unattributed (not from a gateway pod of an AIDeployment), "
            "overload (the queue was full), error.",
            ["reason"],
            registry=r,
        )
        self.source_slots = Gauge("modelguard_source_slots_in_use", "Source slots held now.", registry=r)
        self.source_waiting = Gauge(
            "modelguard_source_slots_waiting", "Reconciles waiting for a source slot.", registry=r
        )
        self._running = 0
        self._peak = 0
        self._lock = threading.Lock()

    def api_request(self, verb: str, path: str) -> None:
        self.api_requests.labels(verb, resource_of(path)).inc()

    @contextmanager
    def scan_running(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
            self._peak = max(self._peak, self._running)
            self.scans_running.set(self._running)
            self.scans_peak.set(self._peak)
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self.scans_running.set(self._running)

    def record_scan(
        self, namespace: str, model: str, result: str, seconds: float, counts: dict[str, int], finished: float
    ) -> None:
        self.scan_duration.labels(result).observe(seconds)
        self.scans.labels(result).inc()
        self.last_scan.labels(namespace, model).set(finished)
        for severity in SEVERITIES:
            self.findings.labels(namespace, model, severity).set(counts.get(severity, 0))

    def forget(self, namespace: str, model: str) -> None:
        for severity in SEVERITIES:
            with contextlib.suppress(KeyError):
                self.findings.remove(namespace, model, severity)
        with contextlib.suppress(KeyError):
            self.last_scan.remove(namespace, model)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 (in a pod; NetworkPolicy limits it)
        start_http_server(port, addr=addr, registry=self.registry)

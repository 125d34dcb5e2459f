"""`modelguard run`: start the operator."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from modelguard.builders.gateway import EVENTS_ADDRESS
from modelguard.domain.ocsf import SINK_FORMATS
from modelguard.domain.tenancy import DEFAULT_TENANT_LABEL


def without_official_client() -> None:
    """The operator process never loads the official Kubernetes client: Kopf imports it when installed (to
    recognise its objects), and that import alone holds ~45 MiB for the process's life. The operator talks to
    the API server through adapters/kube.py only (docs/adr/0016-operator-memory.md)."""
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("run", help="run the operator")
    parser.add_argument("--standalone", action="store_true", help="no peering (single replica)")
    parser.add_argument(
        "--priority",
        default="0",
        help="peering priority (higher wins); 'auto' derives a distinct one from the pod name",
    )
    parser.add_argument(
        "--peering-lifetime",
        type=int,
        default=60,
        help="seconds after which a silent peer is considered gone (takeover time)",
    )
    parser.add_argument("--peering", default="modelguard", help="peering object name")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("MODELGUARD_NAMESPACE", "modelguard-system"),
        help="the operator's own namespace",
    )
    parser.add_argument(
        "--watch-namespace",
        action="append",
        default=[n for n in os.environ.get("MODELGUARD_WATCH_NAMESPACES", "").split(",") if n],
        help="serve only this namespace (repeatable; default: all); the chart's watchNamespaces grants RBAC to match",
    )
    parser.add_argument("--workers", type=int, default=8, help="concurrent reconciles")
    parser.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log lines as text or as JSON objects"
    )
    parser.add_argument(
        "--image",
        default=os.environ.get("MODELGUARD_IMAGE", "ghcr.io/modelguard/operator:0.1.0"),
        help="the operator's own image, used by the verify init container",
    )
    parser.add_argument(
        "--gateway-image",
        default=os.environ.get("MODELGUARD_GATEWAY_IMAGE"),
        help="nginx image of the gateway sidecar, pinned by digest",
    )
    parser.add_argument(
        "--monitoring-namespace",
        default="monitoring",
        help="namespace allowed to reach the gateway status port ('' for none)",
    )
    parser.add_argument(
        "--advisories-configmap",
        default="modelguard-advisories",
        help="ConfigMap in the operator namespace holding OSV advisories (JSON), for SBOM checks",
    )
    parser.add_argument(
        "--decommission-step-delay", type=float, default=0.0, help=argparse.SUPPRESS
    )  # test aid: lets crash tests stop the operator between steps
    parser.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    parser.add_argument("--metrics-host", default="0.0.0.0", help="address of the metrics endpoint")  # noqa: S104
    parser.add_argument(
        "--file-root",
        type=Path,
        action="append",
        default=[],
        help="allow file:// model sources below this directory (repeatable; off by default)",
    )
    parser.add_argument("--ca-bundle", type=Path, default=None, help="extra CA certificates for https:// and oci://")
    parser.add_argument(
        "--plain-http-registry",
        action="append",
        default=[],
        help="a loopback registry host:port reached over plain http (tests only)",
    )
    parser.add_argument("--hash-workers", type=int, default=None, help="hashing threads per verification")
    parser.add_argument(
        "--enabled-namespace-label",
        default=None,
        help="deploy only in namespaces with this label set to 'true', and delete tenant data and keys only when "
        "marked modelguard.io/end-of-life=delete (the chart's restrictWrites policy enforces the same)",
    )
    parser.add_argument(
        "--source-slots", type=int, default=4, help="source work (verifications, scans, fetches) at once"
    )
    parser.add_argument(
        "--source-slots-per-tenant",
        "--source-slots-per-namespace",  # its name before tenants spanned namespaces
        dest="source_slots_per_tenant",
        type=int,
        default=2,
        help="source work at once for one tenant (all its namespaces together)",
    )
    parser.add_argument(
        "--tenant-label",
        default=DEFAULT_TENANT_LABEL,
        help="the Namespace label (set by a cluster admin) naming the tenant that source slots and the work "
        "queue's turns are shared by; an unlabelled namespace is a tenant of its own ('' : every namespace)",
    )
    parser.add_argument(
        "--fetch-deadline", type=float, default=60.0, help="seconds a signature, SBOM or registry call may take"
    )
    parser.add_argument(
        "--verify-deadline", type=float, default=3600.0, help="seconds downloading and hashing a model may take"
    )
    parser.add_argument(
        "--gateway-events-port",
        type=int,
        default=None,
        help="collect the requests gateways refuse (401, 429) on this UDP port (docs/adr/0018)",
    )
    parser.add_argument("--gateway-events-host", default="0.0.0.0", help="address the collector listens on")  # noqa: S104
    parser.add_argument(
        "--gateway-events-service",
        default=None,
        help="NAMESPACE/NAME of the Service in front of the collector: gateways send to its cluster IP and UDP port",
    )
    parser.add_argument(
        "--gateway-events-address", default=None, help="IP:PORT gateways send refusals to (outside a cluster)"
    )
    parser.add_argument(
        "--gateway-events-window",
        type=float,
        default=60.0,
        help="seconds of refusals summed up in one GatewayAbuse audit record per AIDeployment",
    )
    parser.add_argument("--webhook-port", type=int, default=None, help="serve admission webhooks on this port")
    parser.add_argument("--webhook-host", default="0.0.0.0", help="address the webhook server listens on")  # noqa: S104
    parser.add_argument("--webhook-cert", type=Path, default=None, help="TLS certificate for the webhook server")
    parser.add_argument("--webhook-key", type=Path, default=None, help="TLS key for the webhook server")
    parser.add_argument(
        "--audit-sink",
        default=os.environ.get("MODELGUARD_AUDIT_SINK") or None,
        help="also POST audit records (JSON lines) to this https:// URL",
    )
    parser.add_argument(
        "--audit-sink-token-file", type=Path, default=None, help="bearer token for the audit sink, read from a file"
    )
    parser.add_argument(
        "--audit-sink-format",
        choices=SINK_FORMATS,
        default="modelguard",
        help="what the sink receives: ModelGuard's audit records as they are, or OCSF events (docs/traceability.md)",
    )
    parser.set_defaults(func=main)


def sink_url_ok(url: str) -> bool:
    """https://, or http:// to a loopback address (tests): audit records are not sent in the clear."""
    import urllib.parse

    from modelguard.adapters.http import is_loopback

    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


def priority(value: str) -> int:
    """An explicit priority, or for 'auto' a stable one in 1..9999 derived from the pod's name, so that the
    replicas of one Deployment differ (Kopf pauses peers of equal priority)."""
    if value != "auto":
        return int(value)
    name = os.environ.get("POD_NAME") or socket.gethostname()
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 9999 + 1


def setup_logging(log_format: str, verbose: bool) -> None:
    """Text lines, or one JSON object per line (Kopf's JSON formatter: timestamp, level, message and the
    object a line is about) for log pipelines. Logs go to stderr; stdout carries only audit records."""
    import kopf

    if log_format == "json":
        kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON)
    else:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
    for noisy in ("kopf.objects", "aiohttp.access"):  # one line per watch event / webhook call
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(args: argparse.Namespace) -> int:
    from modelguard.adapters.process_memory import cap_malloc_arenas

    without_official_client()
    cap_malloc_arenas()  # before any thread starts
    import kopf  # imported here so that `modelguard verify` in init containers starts fast

    from modelguard.adapters import kube_connection
    from modelguard.adapters.kube import Kube
    from modelguard.engine.runtime import Runtime, Settings
    from modelguard.handlers.registry import build_registry

    setup_logging(args.log_format, args.verbose)
    settings = Settings(
        namespace=args.namespace,
        workers=args.workers,
        image=args.image,
        monitoring_namespace=args.monitoring_namespace or None,
        file_roots=tuple(args.file_root),
        ca_bundle=args.ca_bundle,
        plain_http_registries=tuple(args.plain_http_registry),
        hash_workers=args.hash_workers,
        enabled_namespace_label=args.enabled_namespace_label or None,
        source_slots=args.source_slots,
        source_slots_per_tenant=args.source_slots_per_tenant,
        tenant_label=args.tenant_label or None,
        fetch_deadline=args.fetch_deadline,
        verify_deadline=args.verify_deadline,
        advisories_configmap=args.advisories_configmap or None,
        metrics_port=args.metrics_port,
        decommission_step_delay=args.decommission_step_delay,
        metrics_host=args.metrics_host,
        peering_lifetime=args.peering_lifetime,
        webhook_port=args.webhook_port,
        webhook_host=args.webhook_host,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        audit_sink=args.audit_sink,
        audit_sink_token_file=args.audit_sink_token_file,
        audit_sink_format=args.audit_sink_format,
        watch_namespaces=tuple(args.watch_namespace),
        gateway_events_port=args.gateway_events_port,
        gateway_events_host=args.gateway_events_host,
        gateway_events_service=args.gateway_events_service,
        gateway_events_address=args.gateway_events_address,
        gateway_events_window=args.gateway_events_window,
    )
    if args.gateway_image:
        settings.gateway_image = args.gateway_image
    if args.gateway_events_address and not EVENTS_ADDRESS.match(args.gateway_events_address):
        print(
            f"--gateway-events-address must be IP:PORT (gateways resolve no names), not {args.gateway_events_address!r}"
        )
        return 2
    if args.gateway_events_window < 1:
        print("--gateway-events-window must be at least 1 second")
        return 2
    if args.audit_sink and not sink_url_ok(args.audit_sink):
        print(f"--audit-sink must be an https:// URL (plain http only to loopback), not {args.audit_sink!r}")
        return 2
    try:
        connection = kube_connection.load()
        kube = Kube(connection)
    except (kube_connection.NoCredentials, OSError, ValueError) as exc:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        print(f"modelguard run: no cluster to talk to: {exc}; set KUBECONFIG or create {where}")
        return 2
    runtime = Runtime(kube=kube, settings=settings)
    registry = build_registry(runtime)
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=args.standalone,
            priority=priority(args.priority),
            peering_name=None if args.standalone else args.peering,
            clusterwide=not args.watch_namespace,
            namespaces=list(args.watch_namespace),
            liveness_endpoint=args.liveness,
        )
    )
    return 0

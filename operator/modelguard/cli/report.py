"""`modelguard report`: map the cluster's evidence to each provision of ETSI TS 104 223 (HTML and JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelguard.adapters.audit_log import CHECKPOINT, CONFIGMAP, ring_records
from modelguard.builders import labels
from modelguard.builders.compliance_report import report_html
from modelguard.cli import cluster
from modelguard.domain import signed_json
from modelguard.domain.audit import verify_chain
from modelguard.domain.compliance import AuditState, Facts, assess, ref
from modelguard.domain.compliance_document import parse_framework, report_json, with_history
from modelguard.domain.compliance_facts import LiveWorkload
from modelguard.domain.decommission import verify as verify_certificate
from modelguard.domain.framework_crosswalk import FRAMEWORK_KEYS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("report", help="compliance report against ETSI TS 104 223 (HTML and JSON)")
    parser.add_argument("--namespace", default=None, help="one namespace (default: all)")
    parser.add_argument("--output-dir", type=Path, default=Path("modelguard-report"), help="where to write")
    parser.add_argument("--operator-namespace", default="modelguard-system")
    parser.add_argument(
        "--framework",
        default=None,
        metavar="KEY[=REFERENCE]",
        help=f"only the provisions that support this framework ({', '.join(FRAMEWORK_KEYS)}), or one of its "
        "articles / subcategories / controls (`eu-ai-act=Art. 15`, `iso-27001=8.15`), summarised by its "
        "references (ModelGuard's reading of the cross-references)",
    )
    parser.set_defaults(func=main)


def _kind(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [{**item, "kind": kind} for item in items]  # list responses omit each item's kind


def _audit(
    operator_namespace: str, pem: bytes | None, namespace: str | None
) -> tuple[AuditState, list[dict[str, Any]]]:
    """The checkpoint (its signature checked) and the newest records about objects in scope (their chain
    checked against it: records that do not verify are no evidence)."""
    try:
        data = cluster.configmap(operator_namespace, CONFIGMAP)
        point = json.loads(data[CHECKPOINT])
    except Exception as exc:  # absent, unreadable or malformed: reported, not fatal
        why = f"no readable checkpoint in ConfigMap {operator_namespace}/{CONFIGMAP} ({type(exc).__name__})"
        return AuditState(None, why), []
    if pem is None:
        return AuditState(point.get("seq"), "the operator's public key could not be read"), []
    problem = signed_json.verify(pem, point, "checkpoint")
    ring = ring_records(data)
    chain = verify_chain(ring, point, partial=True)  # the ring keeps the newest records only
    if problem is None and not chain.ok:
        problem = "the records kept in the cluster do not verify: " + "; ".join(chain.problems[:3])
    in_scope = [r for r in ring if namespace is None or (r.get("object") or {}).get("namespace") == namespace]
    return AuditState(point.get("seq"), problem), in_scope if problem is None else []


MANAGED = f"{labels.MANAGED_BY}=modelguard"


def live_workloads(
    deployments: list[dict[str, Any]], workloads: list[dict[str, Any]], policies: list[dict[str, Any]]
) -> dict[str, LiveWorkload]:
    """Each AIDeployment's live model server Deployment and NetworkPolicies, found by the labels ModelGuard
    gives them (never by the AIDeployment's status)."""

    def owned(body: dict[str, Any], ns: str, name: str) -> bool:
        meta = body.get("metadata") or {}
        return meta.get("namespace") == ns and (meta.get("labels") or {}).get(labels.DEPLOYMENT_LABEL) == name

    result = {}
    for d in deployments:
        ns, name = d["metadata"].get("namespace"), d["metadata"]["name"]
        servers = [
            w
            for w in workloads
            if owned(w, ns, name) and (w["metadata"].get("labels") or {}).get(labels.COMPONENT) == "model-server"
        ]
        server = servers[0] if len(servers) == 1 else None
        digest = ((server or {}).get("metadata", {}).get("annotations") or {}).get(labels.DIGEST_ANNOTATION)
        result[ref(d)] = LiveWorkload(server, digest, [p for p in policies if owned(p, ns, name)])
    return result


def gather(namespace: str | None, operator_namespace: str) -> Facts:
    models = _kind(cluster.items("aimodels", namespace), "AIModel")
    deployments = _kind(cluster.items("aideployments", namespace), "AIDeployment")
    policies = _kind(cluster.items("trustpolicies"), "TrustPolicy")
    certificates = [
        c
        for c in _kind(cluster.items("decommissioncertificates"), "DecommissionCertificate")
        if namespace is None or ((c.get("spec") or {}).get("model") or {}).get("namespace") == namespace
    ]
    try:
        pem: bytes | None = cluster.operator_public_key(operator_namespace)
    except Exception:  # the key is missing: certificates and checkpoint cannot be trusted
        pem = None
    problems = {}
    for cert in certificates:
        why = "the operator's public key could not be read" if pem is None else verify_certificate(pem, cert["spec"])
        if why:
            problems[str(cert["metadata"]["name"])] = why
    audit_state, records = _audit(operator_namespace, pem, namespace)
    reports = _kind(cluster.items("scanreports", namespace), "ScanReport")
    workloads = _kind(cluster.items("deployments", namespace, "/apis/apps/v1", MANAGED), "Deployment")
    network = _kind(cluster.items("networkpolicies", namespace, "/apis/networking.k8s.io/v1", MANAGED), "NetworkPolicy")
    live = live_workloads(deployments, workloads, network)
    return Facts(models, deployments, policies, certificates, problems, audit_state, reports, records, live)


def _previous(path: Path) -> dict[str, Any] | None:
    """The report written there before, for its history (unreadable: a new history starts)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def main(args: argparse.Namespace) -> int:
    if args.framework is not None:
        try:
            parse_framework(args.framework)
        except ValueError as exc:
            print(f"modelguard report: --framework: {exc}", file=sys.stderr)
            return 2
    try:
        facts = gather(args.namespace, args.operator_namespace)
    except Exception as exc:
        print(f"cannot read the cluster ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    document = report_json(
        assess(facts),
        facts,
        namespace=args.namespace,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        operator_namespace=args.operator_namespace,
        framework=args.framework,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    document = with_history(document, _previous(args.output_dir / "report.json"))
    (args.output_dir / "report.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.output_dir / "report.html").write_text(report_html(document))
    summary = ", ".join(f"{count} {status}" for status, count in document["summary"].items())
    print(f"{summary}; wrote {args.output_dir}/report.html and report.json", file=sys.stderr)
    print(document["disclaimer"], file=sys.stderr)
    return 0

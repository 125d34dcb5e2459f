"""Read the cluster's compliance evidence (the I/O half of the report): the modelguard.io objects, the signed
audit checkpoint and the records it covers, DecommissionCertificates with their signatures checked, and each
AIDeployment's live model server Deployment and NetworkPolicies. Used by `modelguard report` on a
workstation and by the operator's ComplianceReport reconciler; both pass how to GET an API path."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from modelguard.adapters.audit_log import CHECKPOINT, CONFIGMAP, ring_lines, ring_records
from modelguard.adapters.signing_key import PUBLIC, PUBLIC_KEY
from modelguard.builders import labels
from modelguard.domain import signed_json
from modelguard.domain.audit import verify_log
from modelguard.domain.compliance_facts import AuditState, Facts, LiveWorkload, ref
from modelguard.domain.decommission import verify as verify_certificate

Get = Callable[[str], dict[str, Any]]  # GET an API path; raises on API or connection errors
API = "/apis/modelguard.io/v1alpha1"
MANAGED = f"{labels.MANAGED_BY}=modelguard"


PAGE = 500  # objects per list request: a large cluster is read in pages, not in one response


def items(
    get: Get,
    plural: str,
    namespace: str | None = None,
    api: str = API,
    selector: str = "",
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The objects of one kind, in one namespace or all, optionally only those a label selector selects, read
    a page at a time; `keep` cuts each object down to what is needed before the next page is read."""
    path = f"{api}/namespaces/{namespace}/{plural}" if namespace else f"{api}/{plural}"
    params = {"limit": str(PAGE), **({"labelSelector": selector} if selector else {})}
    found: list[dict[str, Any]] = []
    while True:
        page = get(f"{path}?{urllib.parse.urlencode(params)}")
        found += [keep(i) if keep else i for i in page.get("items") or []]
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return found
        params["continue"] = token


def _pod_template_view(deployment: dict[str, Any]) -> dict[str, Any]:
    """What the live re-check and the evidence index read of a model server Deployment (a few hundred bytes
    instead of the whole object with its managed fields and status)."""
    meta = deployment.get("metadata") or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    pod = template.get("spec") or {}
    pod_keys = ("automountServiceAccountToken", "securityContext", "hostNetwork", "hostPID", "hostIPC")
    container_keys = ("name", "image", "securityContext", "ports")

    def containers(group: str) -> list[dict[str, Any]]:
        return [{k: c[k] for k in container_keys if k in c} for c in pod.get(group) or []]

    view_pod: dict[str, Any] = {k: pod[k] for k in pod_keys if k in pod}
    view_pod |= {g: containers(g) for g in ("initContainers", "containers", "ephemeralContainers") if pod.get(g)}
    view_pod["volumes"] = [{k: v[k] for k in ("name", "hostPath") if k in v} for v in pod.get("volumes") or []]
    return {
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "labels", "annotations")},
        "spec": {
            "template": {"metadata": {"labels": (template.get("metadata") or {}).get("labels")}, "spec": view_pod}
        },
    }


def _policy_view(policy: dict[str, Any]) -> dict[str, Any]:
    meta, spec = policy.get("metadata") or {}, policy.get("spec") or {}
    return {
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "labels")},
        "spec": {k: spec.get(k) for k in ("podSelector", "policyTypes", "ingress", "egress")},
    }


def configmap(get: Get, namespace: str, name: str) -> dict[str, str]:
    return dict(get(f"/api/v1/namespaces/{namespace}/configmaps/{name}").get("data") or {})


def _kind(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [{**item, "kind": kind} for item in found]  # list responses omit each item's kind


def audit_state(
    get: Get, operator_namespace: str, pem: bytes | None, namespace: str | None
) -> tuple[AuditState, list[dict[str, Any]]]:
    """The checkpoint (its signature checked) and the newest records about objects in scope (their chain
    checked against it: records that do not verify are no evidence)."""
    try:
        data = configmap(get, operator_namespace, CONFIGMAP)
        point = json.loads(data[CHECKPOINT])
    except Exception as exc:  # absent, unreadable or malformed: reported, not fatal
        why = f"no readable checkpoint in ConfigMap {operator_namespace}/{CONFIGMAP} ({type(exc).__name__})"
        return AuditState(None, why), []
    if pem is None:
        return AuditState(point.get("seq"), "the operator's public key could not be read"), []
    problem = signed_json.verify(pem, point, "checkpoint")
    ring = ring_records(data)
    chain = verify_log(ring_lines(data), point, partial=True)  # the ring keeps the newest records only
    if problem is None and not chain.ok:
        problem = "the records kept in the cluster do not verify: " + "; ".join(chain.problems[:3])
    in_scope = [r for r in ring if namespace is None or (r.get("object") or {}).get("namespace") == namespace]
    return AuditState(point.get("seq"), problem), in_scope if problem is None else []


def live_workloads(
    deployments: list[dict[str, Any]], workloads: list[dict[str, Any]], policies: list[dict[str, Any]]
) -> dict[str, LiveWorkload]:
    """Each AIDeployment's live model server Deployment and NetworkPolicies, found by the labels ModelGuard
    gives them in the AIDeployment's own namespace (never by the AIDeployment's status)."""

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
        server = servers[0] if len(servers) == 1 else None  # two claim to be it: nothing is claimed
        digest = ((server or {}).get("metadata", {}).get("annotations") or {}).get(labels.DIGEST_ANNOTATION)
        result[ref(d)] = LiveWorkload(server, digest, [p for p in policies if owned(p, ns, name)])
    return result


def gather(get: Get, namespace: str | None, operator_namespace: str) -> Facts:
    """Everything the report assesses, in one namespace or all."""
    models = _kind(items(get, "aimodels", namespace), "AIModel")
    deployments = _kind(items(get, "aideployments", namespace), "AIDeployment")
    policies = _kind(items(get, "trustpolicies"), "TrustPolicy")
    certificates = [
        c
        for c in _kind(items(get, "decommissioncertificates"), "DecommissionCertificate")
        if namespace is None or ((c.get("spec") or {}).get("model") or {}).get("namespace") == namespace
    ]
    try:
        pem: bytes | None = configmap(get, operator_namespace, PUBLIC)[PUBLIC_KEY].encode()
    except Exception:  # the key is missing: certificates and checkpoint cannot be trusted
        pem = None
    problems = {}
    for cert in certificates:
        why = "the operator's public key could not be read" if pem is None else verify_certificate(pem, cert["spec"])
        if why:
            problems[str(cert["metadata"]["name"])] = why
    audit, records = audit_state(get, operator_namespace, pem, namespace)
    reports = _kind(items(get, "scanreports", namespace), "ScanReport")
    apps, networking = "/apis/apps/v1", "/apis/networking.k8s.io/v1"
    workloads = _kind(items(get, "deployments", namespace, apps, MANAGED, _pod_template_view), "Deployment")
    network = _kind(items(get, "networkpolicies", namespace, networking, MANAGED, _policy_view), "NetworkPolicy")
    live = live_workloads(deployments, workloads, network)
    return Facts(models, deployments, policies, certificates, problems, audit, reports, records, live)

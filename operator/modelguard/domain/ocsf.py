"""Audit records as OCSF events, for a SIEM that should not need a ModelGuard parser (pure; ADR 0017).

A Change (someone created, updated, deleted or annotated a modelguard.io object, admitted by the webhook)
is an OCSF API Activity (6003). A security decision is a Detection Finding (2004): a model whose verification
failed, an AIDeployment quarantined (the finding is opened) and released (the same finding is closed), a
change someone made to a deployment's workload that the operator reverted (drift, resolved at once), the
requests a deployment's gateway refused in a window (missing or wrong API keys, rate-limit hits). The
operator's other decisions (verified, rolled out, approved, decommissioned) are API Activity with activity
"Other" and the decision as the operation. Every event carries the whole ModelGuard record in
`unmapped.modelguard_record`, so the chain (`prev`, `hash`) can still be verified from what the SIEM kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

SinkFormat = Literal["modelguard", "ocsf"]  # what the audit sink receives
SINK_FORMATS: tuple[SinkFormat, ...] = ("modelguard", "ocsf")

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "ModelGuard", "vendor_name": "ModelGuard", "feature": {"name": "audit trail"}}

API_ACTIVITY, DETECTION_FINDING = 6003, 2004
CATEGORY = {API_ACTIVITY: 6, DETECTION_FINDING: 2}  # Application Activity, Findings
CHANGE_ACTIVITY = {"CREATE": (1, "Create"), "UPDATE": (3, "Update"), "DELETE": (4, "Delete"), "ANNOTATE": (3, "Update")}
INFORMATIONAL, LOW, MEDIUM, HIGH = 1, 2, 3, 4

# decision -> (activity_id, activity_name, severity_id, finding status_id, status name, title)
FINDINGS: dict[str, tuple[int, str, int, int, str, str]] = {
    "Rejected": (1, "Create", HIGH, 1, "New", "AI model failed verification"),
    "Quarantined": (1, "Create", HIGH, 1, "New", "AI deployment quarantined"),
    "Released": (3, "Close", INFORMATIONAL, 4, "Resolved", "AI deployment quarantined"),
    "DriftReverted": (1, "Create", MEDIUM, 4, "Resolved", "Change to an AI deployment's workload reverted"),
    "GatewayAbuse": (1, "Create", MEDIUM, 1, "New", "Requests refused at an AI deployment's gateway"),
}


TYPES = {
    "Rejected": "AI model supply chain",
    "Quarantined": "AI deployment quarantine",
    "Released": "AI deployment quarantine",
    "DriftReverted": "AI deployment drift",
    "GatewayAbuse": "AI deployment abuse",
}


def _millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _user(actor: Mapping[str, Any]) -> dict[str, Any]:
    name = str(actor.get("username", ""))
    system = name.startswith("system:")
    return {
        "name": name,
        "type_id": 3 if system else 1,
        "type": "System" if system else "User",
        "groups": [{"name": str(g)} for g in actor.get("groups") or []],
    }


def _resource(record: Mapping[str, Any]) -> dict[str, Any]:
    obj = record.get("object") or {}
    resource: dict[str, Any] = {"type": str(obj.get("kind")), "name": str(obj.get("name"))}
    if obj.get("namespace"):
        resource["namespace"] = str(obj["namespace"])
    hashes = {k: record[k] for k in ("oldHash", "newHash") if record.get(k)}
    if hashes:
        resource["data"] = hashes
    return resource


def _where(record: Mapping[str, Any]) -> str:
    obj = record.get("object") or {}
    return f"{obj.get('kind')} {obj.get('namespace')}/{obj.get('name')}" if obj.get("namespace") else str(obj)


def _header(class_uid: int, activity_id: int, activity_name: str, severity: int, millis: int) -> dict[str, Any]:
    """What every OCSF event starts with: its class, activity, severity and time."""
    return {
        "class_uid": class_uid,
        "category_uid": CATEGORY[class_uid],
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": severity,
        "time": millis,
    }


def _api(operation: str) -> dict[str, Any]:
    # admission sees the request, not the client's address: the endpoint is the API server that asked
    return {
        "api": {"operation": operation, "service": {"name": "modelguard.io"}},
        "src_endpoint": {"name": "kube-apiserver"},
    }


def _base(
    record: Mapping[str, Any], class_uid: int, activity_id: int, activity_name: str, severity: int
) -> dict[str, Any]:
    return {
        **_header(class_uid, activity_id, activity_name, severity, _millis(str(record["time"]))),
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "uid": str(record.get("hash")),
            "sequence": int(record["seq"]),
            "log_name": "modelguard-audit",
            "original_time": str(record["time"]),
        },
        "actor": {"user": _user(record.get("actor") or {})},
        "resources": [_resource(record)],
        "unmapped": {"modelguard_record": dict(record)},
    }


def _finding(record: Mapping[str, Any]) -> dict[str, Any]:
    action = str(record["action"])
    activity_id, activity_name, severity, status_id, status, title = FINDINGS[action]
    obj = record.get("object") or {}
    details = record.get("details") or {}
    key = f"{obj.get('kind')}/{obj.get('namespace')}/{obj.get('name')}"
    # a quarantine and its release share one finding; each verification failure is its own
    quarantine = action in ("Quarantined", "Released")
    uid = f"modelguard:quarantine:{key}" if quarantine else f"modelguard:{action}:{key}:{record['seq']}"
    event = _base(record, DETECTION_FINDING, activity_id, activity_name, severity)
    said = str(details.get("reason") or details.get("objects") or "")
    event |= {
        "status_id": status_id,
        "status": status,
        "message": f"{action} {_where(record)}: {said}".rstrip(": "),
        "finding_info": {
            "uid": uid,
            "title": title,
            "desc": said or action,
            "types": [TYPES[action]],
        },
    }
    return event


def to_ocsf(record: Mapping[str, Any]) -> dict[str, Any]:
    """One OCSF event for one committed audit record."""
    action = str(record.get("action"))
    if record.get("type") == "Decision" and action in FINDINGS:
        return _finding(record)
    username = (record.get("actor") or {}).get("username")
    if record.get("type") == "Change":
        activity_id, activity_name = CHANGE_ACTIVITY.get(action, (99, "Other"))
        message = f"{username} {action.lower()}d {_where(record)}"
    else:
        activity_id, activity_name = 99, "Other"
        message = f"{action} {_where(record)}"
    event = _base(record, API_ACTIVITY, activity_id, activity_name, INFORMATIONAL)
    event |= {
        "status_id": 1,  # admitted / decided: a refused change is never recorded
        "status": "Success",
        "message": message,
        **_api(action),
    }
    return event


def denial_event(review: Mapping[str, Any], message: str, webhook: str, now: datetime) -> dict[str, Any]:
    """An admission request ModelGuard refused, as an OCSF API Activity that failed. Refusals are not audit
    records (nothing changed, and any tenant could grow the chain with them): they go to the SIEM only, without
    a place in the chain."""
    request = review.get("request") or {}
    operation = str(request.get("operation", ""))
    activity_id, activity_name = CHANGE_ACTIVITY.get(operation, (99, "Other"))
    kind = (request.get("kind") or {}).get("kind", "")
    resource: dict[str, Any] = {"type": str(kind), "name": str(request.get("name") or "")}
    if request.get("namespace"):
        resource["namespace"] = str(request["namespace"])
    user = request.get("userInfo") or {}
    return {
        **_header(API_ACTIVITY, activity_id, activity_name, LOW, int(now.timestamp() * 1000)),
        "status_id": 2,
        "status": "Failure",
        "status_detail": message[:1000],
        "message": f"admission refused {operation.lower()} of {kind} {resource.get('namespace', '')}/{resource['name']}"
        f" by {user.get('username', '')}",
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "uid": str(request.get("uid", "")),
            "log_name": "modelguard-admission",
        },
        "actor": {"user": _user(user)},
        **_api(operation),
        "resources": [resource],
        "unmapped": {"modelguard_webhook": webhook},
    }

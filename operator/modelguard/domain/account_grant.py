"""Running a model server as a named ServiceAccount needs a grant signed at admission (pure; issue 13, class 5).

Naming `spec.serviceAccountName` runs pods as that account, so only someone who may create pods in the
namespace may do it. The admission webhook checks that (a SubjectAccessReview as the requester) and, when it
holds, stamps the AIDeployment with a grant signed by the operator's key, bound to the namespace, the
AIDeployment's name and the account. The reconciler uses the account only with a grant that verifies: an
object written while the webhook was down, or in a namespace whose admission only warns, runs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.domain import safe_json, signed_json

GRANT = "modelguard.io/service-account-grant"


def _document(namespace: str, deployment: str, account: str, username: str) -> dict[str, Any]:
    return {
        "kind": "ServiceAccountGrant",
        "namespace": namespace,
        "deployment": deployment,
        "account": account,
        "username": username,
    }


def grant(private: ec.EllipticCurvePrivateKey, namespace: str, deployment: str, account: str, username: str) -> str:
    """The annotation value the webhook writes when `username` may create pods in the namespace."""
    document = _document(namespace, deployment, account, username)
    return json.dumps({**document, "signature": signed_json.sign(private, document)}, separators=(",", ":"))


def granted(body: Mapping[str, Any], public_pem: bytes) -> str | None:
    """Why the AIDeployment may not run as its named account, or None when a valid grant covers it."""
    meta = body.get("metadata") or {}
    account = str((body.get("spec") or {}).get("serviceAccountName") or "")
    raw = (meta.get("annotations") or {}).get(GRANT)
    if not raw:
        return f"spec.serviceAccountName {account!r} was not admitted (no grant: the webhook did not review it)"
    try:
        document = safe_json.loads(raw)
    except ValueError:
        return "the service account grant is not JSON"
    if not isinstance(document, dict):
        return "the service account grant is not a document"
    expected = _document(str(meta.get("namespace", "")), str(meta.get("name", "")), account, "")
    for field in ("kind", "namespace", "deployment", "account"):
        if document.get(field) != expected[field]:
            return f"the service account grant is for another {field}"
    problem = signed_json.verify(public_pem, document, "service account grant")
    return None if problem is None else problem

"""Service account grants (domain/account_grant.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.domain.account_grant import GRANT, grant, granted
from modelguard.domain.crypto import public_pem

KEY = ec.generate_private_key(ec.SECP256R1())
PUB = public_pem(KEY.public_key())


def body(
    annotation: str | None, *, namespace: str = "team", name: str = "svc", account: str = "runner"
) -> dict[str, Any]:
    notes = {GRANT: annotation} if annotation is not None else {}
    return {
        "metadata": {"namespace": namespace, "name": name, "annotations": notes},
        "spec": {"serviceAccountName": account},
    }


def test_a_grant_for_this_deployment_and_account_holds() -> None:
    assert granted(body(grant(KEY, "team", "svc", "runner", "alice")), PUB) is None


@pytest.mark.parametrize(
    ("annotation", "changes", "why"),
    [
        (None, {}, "was not admitted"),
        ("not json", {}, "not JSON"),
        (grant(KEY, "team", "svc", "runner", "alice"), {"account": "cluster-admin-sa"}, "another account"),
        (grant(KEY, "team", "svc", "runner", "alice"), {"name": "other"}, "another deployment"),
        (grant(KEY, "team", "svc", "runner", "alice"), {"namespace": "elsewhere"}, "another namespace"),
        (grant(ec.generate_private_key(ec.SECP256R1()), "team", "svc", "runner", "alice"), {}, "another key"),
        (
            json.dumps({**json.loads(grant(KEY, "team", "svc", "runner", "alice")), "username": "mallory"}),
            {},
            "signature",
        ),
    ],
)
def test_anything_else_is_refused(annotation: str | None, changes: dict[str, str], why: str) -> None:
    problem = granted(body(annotation, **changes), PUB)
    assert problem is not None and why in problem

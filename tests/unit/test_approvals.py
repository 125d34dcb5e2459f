"""Approval stamps: only the operator's signature over the admitted identity makes an approval count."""

from __future__ import annotations

from typing import Any

from modelguard.domain import approvals, crypto

KEY = crypto.generate("p256")
PEM = crypto.public_pem(KEY.public_key())
DIGEST = "sha256:" + "a" * 64
SPEC = {"deployment": "chat", "digest": DIGEST}


def approval(name: str, user: str, spec: dict[str, str] = SPEC, namespace: str = "team-a") -> dict[str, Any]:
    notes = approvals.stamp(KEY, namespace, spec, user, ["approvers"])
    return {"metadata": {"name": name, "namespace": namespace, "annotations": notes}, "spec": dict(spec)}


def test_valid_approvals_count_once_per_person() -> None:
    bodies = [approval("a1", "alice"), approval("a2", "alice"), approval("b1", "bob")]
    found = approvals.count(bodies, "chat", DIGEST, PEM)
    assert [(a.username, a.name) for a in found] == [("alice", "a1"), ("bob", "b1")]


def test_approvals_bind_to_the_digest_and_deployment() -> None:
    bodies = [approval("a1", "alice")]
    assert approvals.count(bodies, "chat", "sha256:" + "b" * 64, PEM) == []
    assert approvals.count(bodies, "other", DIGEST, PEM) == []
    assert approvals.count(bodies, "chat", None, PEM) == []


def test_forged_or_moved_stamps_do_not_count() -> None:
    forged = approval("f", "alice")
    forged["metadata"]["annotations"][approvals.APPROVED_BY] = "mallory"
    unsigned = {
        "metadata": {"name": "u", "namespace": "team-a", "annotations": {approvals.APPROVED_BY: "x"}},
        "spec": SPEC,
    }
    moved = approval("m", "alice", namespace="team-b")
    moved["metadata"]["namespace"] = "team-a"  # a stamp from another namespace
    retargeted = approval("r", "alice")
    retargeted["spec"] = {**SPEC, "digest": "sha256:" + "c" * 64}
    other_key = crypto.public_pem(crypto.generate("p256").public_key())
    assert approvals.count([forged, unsigned, moved], "chat", DIGEST, PEM) == []
    assert approvals.count([retargeted], "chat", "sha256:" + "c" * 64, PEM) == []
    assert approvals.count([approval("a", "alice")], "chat", DIGEST, other_key) == []

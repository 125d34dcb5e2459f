"""Approval stamps: only the operator's signature over the admitted identity makes an approval count."""

from __future__ import annotations

from typing import Any

from modelguard.domain import approvals, crypto

KEY = crypto.generate("p256")
PEM = crypto.public_pem(KEY.public_key())
DIGEST = "sha256:" + "a" * 64
SPEC = {"deployment": "chat", "digest": DIGEST}
IMAGE = "registry.example/server@sha256:" + "d" * 64
CHAT = {
    "metadata": {"name": "chat", "namespace": "team-a", "uid": "uid-1"},
    "spec": {"modelRef": {"name": "m"}, "runtime": {"image": IMAGE}, "replicas": 2},
}


def deployment(name: str = "chat", uid: str = "uid-1", **spec: Any) -> dict[str, Any]:
    return {"metadata": {**CHAT["metadata"], "name": name, "uid": uid}, "spec": {**CHAT["spec"], **spec}}


def approval(
    name: str, user: str, spec: dict[str, str] = SPEC, namespace: str = "team-a", of: dict[str, Any] = CHAT
) -> dict[str, Any]:
    notes = approvals.stamp(KEY, namespace, spec, user, ["approvers"], of)
    return {"metadata": {"name": name, "namespace": namespace, "annotations": notes}, "spec": dict(spec)}


def test_valid_approvals_count_once_per_person() -> None:
    bodies = [approval("a1", "alice"), approval("a2", "alice"), approval("b1", "bob")]
    found = approvals.count(bodies, CHAT, DIGEST, PEM)
    assert [(a.username, a.name) for a in found] == [("alice", "a1"), ("bob", "b1")]


def test_approvals_bind_to_the_digest_and_deployment() -> None:
    bodies = [approval("a1", "alice")]
    assert approvals.count(bodies, CHAT, "sha256:" + "b" * 64, PEM) == []
    assert approvals.count(bodies, deployment("other"), DIGEST, PEM) == []
    assert approvals.count(bodies, CHAT, None, PEM) == []


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
    assert approvals.count([forged, unsigned, moved], CHAT, DIGEST, PEM) == []
    assert approvals.count([retargeted], CHAT, "sha256:" + "c" * 64, PEM) == []
    assert approvals.count([approval("a", "alice")], CHAT, DIGEST, other_key) == []


def test_an_approval_covers_this_very_deployment_as_it_was_approved() -> None:
    """Issue 13, class 7 and issue 27 item 6: re-creating the deployment under its name, or changing what runs or
    who reaches it, needs new approvals; a forged uid or spec annotation breaks the signature."""
    bodies = [approval("a1", "alice")]
    assert [a.username for a in approvals.count(bodies, CHAT, DIGEST, PEM)] == ["alice"]
    assert approvals.count(bodies, deployment(uid="uid-2"), DIGEST, PEM) == []  # re-created
    assert approvals.count(bodies, deployment(replicas=20), DIGEST, PEM) == []
    assert approvals.count(bodies, deployment(runtime={"image": IMAGE.replace("d", "e")}), DIGEST, PEM) == []
    assert approvals.count(bodies, deployment(access={"exposure": "External"}), DIGEST, PEM) == []
    assert approvals.count(bodies, deployment(rateLimit={"requestsPerSecond": 5}), DIGEST, PEM) == []  # who reaches it
    assert approvals.count(bodies, deployment(approval={"required": 3}), DIGEST, PEM)  # not covered: still counts
    moved = approval("a2", "bob")
    moved["metadata"]["annotations"][approvals.APPROVED_UID] = "uid-2"
    assert approvals.count([moved], deployment(uid="uid-2"), DIGEST, PEM) == []


def test_separation_of_duties_drops_the_last_editors_approval() -> None:
    bodies = [approval("a1", "alice"), approval("b1", "bob")]
    found = approvals.count(bodies, CHAT, DIGEST, PEM, not_by="alice")
    assert [a.username for a in found] == ["bob"]


def test_the_last_editor_is_read_only_from_a_stamp_covering_the_current_spec() -> None:
    body = deployment()
    body["metadata"]["annotations"] = {
        approvals.LAST_CHANGED_BY: approvals.change_stamp(KEY, "team-a", "chat", body["spec"], "alice")
    }
    assert approvals.last_editor(body, PEM) == "alice"
    changed = {**body, "spec": {**body["spec"], "replicas": 3}}  # changed behind admission's back
    assert approvals.last_editor(changed, PEM) is None
    other_key = crypto.public_pem(crypto.generate("p256").public_key())
    assert approvals.last_editor(body, other_key) is None
    assert approvals.last_editor(deployment(), PEM) is None  # no stamp


def test_a_change_awaiting_approval_is_served_as_last_approved_never_as_changed() -> None:
    """Issue 27 item 6: while a change of what runs awaits approval, the workload is built from the spec the
    approvers saw (the approval carries it, its digest signed), never from the change."""
    first = approval("a1", "alice")
    second = approval("b1", "bob")
    second["metadata"]["creationTimestamp"] = "2026-12-08T10:00:00Z"
    first["metadata"]["creationTimestamp"] = "2026-12-08T09:00:00Z"
    changed = deployment(runtime={"image": IMAGE, "args": ["--trust-remote-code"]}, replicas=9)
    document = approvals.last_approved([first, second], changed, DIGEST, 2, PEM)
    assert document is not None and document["replicas"] == 2 and document["runtime"]["args"] == []
    assert approvals.last_approved([first], changed, DIGEST, 2, PEM) is None  # too few approvers of that spec
    assert approvals.last_approved([first, second], deployment(uid="uid-2"), DIGEST, 1, PEM) is None  # re-created
    assert approvals.last_approved([first, second], changed, "sha256:" + "c" * 64, 1, PEM) is None  # another digest
    tampered = approval("t", "carol")
    tampered["metadata"]["annotations"][approvals.APPROVED_DOCUMENT] = tampered["metadata"]["annotations"][
        approvals.APPROVED_DOCUMENT
    ].replace('"replicas":2', '"replicas":50')
    assert approvals.last_approved([tampered], changed, DIGEST, 1, PEM) is None  # the document must match its digest

"""The audit trail's pure parts: records, the chain, checkpoints, decisions from status changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from modelguard.domain import audit, crypto, signed_json
from modelguard.domain.audit import Actor, Entry, ObjectRef, change_entry, content_hash, seal, verify_chain
from modelguard.domain.audit_decisions import decisions

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REF = ObjectRef("AIModel", "team-a", "m")
ALICE = Actor("alice", ("devs",))


def chain(n: int) -> list[dict[str, object]]:
    return seal([Entry("Change", "UPDATE", REF, ALICE, details={"i": str(i)}) for i in range(n)], 0, audit.GENESIS, NOW)


def test_records_link_and_hash() -> None:
    records = chain(3)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == audit.GENESIS and records[1]["prev"] == records[0]["hash"]
    assert all(audit.record_hash(r) == r["hash"] for r in records)
    more = seal([Entry("Decision", "Verified", REF)], 3, str(records[-1]["hash"]), NOW)
    assert more[0]["seq"] == 4 and more[0]["prev"] == records[-1]["hash"]


def test_a_whole_chain_verifies_against_its_checkpoint() -> None:
    records = chain(5)
    head = audit.checkpoint(5, str(records[-1]["hash"]), NOW)
    report = verify_chain(records, head)
    assert report.ok and (report.first, report.last, report.records) == (1, 5, 5)


def test_identical_duplicates_are_accepted_and_order_does_not_matter() -> None:
    records = chain(4)
    report = verify_chain([records[3], *records, records[1]], audit.checkpoint(4, str(records[3]["hash"]), NOW))
    assert report.ok and report.records == 4


def test_an_altered_record_is_caught() -> None:
    records = chain(4)
    records[1] = {**records[1], "actor": {"username": "mallory", "groups": []}}
    report = verify_chain(records, None)
    assert not report.ok
    assert any("record 2" in p and "altered" in p for p in report.problems)


def test_a_rehashed_forgery_breaks_the_chain() -> None:
    records = chain(4)
    forged = {**records[1], "actor": {"username": "mallory", "groups": []}}
    forged["hash"] = audit.record_hash(forged)
    records[1] = forged
    report = verify_chain(records, audit.checkpoint(4, str(records[3]["hash"]), NOW))
    assert any("record 3" in p and "chain broken" in p for p in report.problems)


def test_a_removed_record_is_a_gap() -> None:
    records = chain(5)
    del records[2]
    report = verify_chain(records, None)
    assert "records missing from the log: 3" in report.problems


def test_a_cut_tail_is_caught_only_against_the_checkpoint() -> None:
    records = chain(6)
    head = audit.checkpoint(6, str(records[-1]["hash"]), NOW)
    assert verify_chain(records[:4], None).ok  # the chain alone cannot know
    report = verify_chain(records[:4], head)
    assert any("records 5-6 are missing" in p for p in report.problems)


def test_a_different_record_at_the_checkpoint_is_caught() -> None:
    records = chain(3)
    report = verify_chain(records, audit.checkpoint(3, "sha256:" + "f" * 64, NOW))
    assert any("differs from the signed checkpoint" in p for p in report.problems)


def test_a_rotated_log_is_checked_from_where_it_starts_when_asked() -> None:
    records = chain(6)
    report = verify_chain(records[3:], audit.checkpoint(6, str(records[-1]["hash"]), NOW), partial=True)
    assert report.ok and any("starts at record 4" in n for n in report.notes)


def test_a_truncated_or_uncovered_log_fails_unless_a_partial_check_is_asked() -> None:
    """Issue 13, class 6: a log without its start, or with records no signed checkpoint covers, fails."""
    records = chain(6)
    truncated = verify_chain(records[3:], audit.checkpoint(6, str(records[-1]["hash"]), NOW))
    assert not truncated.ok and any("starts at record 4" in p for p in truncated.problems)
    padded = verify_chain(records, audit.checkpoint(4, str(records[3]["hash"]), NOW))  # 5 and 6 signed by nobody
    assert not padded.ok and any("not covered" in p for p in padded.problems)
    assert verify_chain(records, audit.checkpoint(4, str(records[3]["hash"]), NOW), partial=True).ok
    assert not verify_chain([], None, partial=True).ok  # no verifiable record at all


def test_parse_log_skips_other_lines() -> None:
    records = chain(2)
    lines = ["2026-11-25 INFO kopf started", *(json.dumps(r) for r in records), '{"audit": "other"}', "{broken"]
    assert audit.parse_log(lines) == records


def test_checkpoint_signature_detects_changes() -> None:
    key = crypto.generate("p256")
    pem = crypto.public_pem(key.public_key())
    point = audit.checkpoint(7, "sha256:" + "a" * 64, NOW)
    point["signature"] = signed_json.sign(key, point)
    assert signed_json.verify(pem, point, "checkpoint") is None
    assert signed_json.verify(pem, {**point, "seq": 3}, "checkpoint") is not None
    other = crypto.public_pem(crypto.generate("p256").public_key())
    assert "another key" in str(signed_json.verify(other, point, "checkpoint"))


def test_change_entries_hash_old_and_new_specs() -> None:
    old = {"metadata": {}, "spec": {"version": "1"}}
    new = {"metadata": {}, "spec": {"version": "2"}}
    entry = change_entry(REF, "UPDATE", old, new, ALICE)
    assert entry is not None and entry.action == "UPDATE" and entry.actor == ALICE
    assert entry.old_hash == content_hash({"version": "1"}) and entry.new_hash == content_hash({"version": "2"})
    created = change_entry(REF, "CREATE", None, new, ALICE)
    assert created is not None and created.old_hash is None
    deleted = change_entry(REF, "DELETE", new, None, ALICE)
    assert deleted is not None and deleted.new_hash is None
    assert "changed" not in created.details and "changed" not in deleted.details


def test_an_update_names_the_spec_fields_it_changed() -> None:
    """Issue 19: a change of how the model behaves to its clients (rate limit, gateway, authentication) is
    visible in the record itself, not only as a different spec hash."""
    old = {
        "spec": {"modelRef": {"name": "m"}, "rateLimit": {"requestsPerSecond": 20}, "gateway": {"maxBodySize": "1m"}}
    }
    new = {"spec": {"modelRef": {"name": "m"}, "rateLimit": {"requestsPerSecond": 500}, "authentication": {"x": 1}}}
    entry = change_entry(REF, "UPDATE", old, new, ALICE, details={"systemPrompt": "sha256:p"})
    assert entry is not None and entry.details == {
        "changed": "authentication,gateway,rateLimit",
        "systemPrompt": "sha256:p",
    }


def test_metadata_only_updates_are_not_changes_unless_audited_annotations_move() -> None:
    old = {"metadata": {"finalizers": []}, "spec": {"v": 1}}
    same = {"metadata": {"finalizers": ["x"]}, "spec": {"v": 1}}
    assert change_entry(REF, "UPDATE", old, same, ALICE) is None
    flagged = {"metadata": {"annotations": {"modelguard.io/quarantine-override": "accepted"}}, "spec": {"v": 1}}
    entry = change_entry(REF, "UPDATE", old, flagged, ALICE, ("modelguard.io/quarantine-override",))
    assert entry is not None and entry.action == "ANNOTATE"
    assert entry.details["annotation:modelguard.io/quarantine-override"] == "accepted"


DIGEST_1, DIGEST_2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def cond(kind: str, status: str, reason: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason}


@pytest.mark.parametrize(
    ("kind", "before", "patch", "expected"),
    [
        ("AIModel", {}, {"verified": {"digest": DIGEST_1, "signer": "k"}}, ["Verified"]),
        ("AIModel", {"verified": {"digest": DIGEST_1}}, {"verified": {"digest": DIGEST_1}}, []),
        ("AIModel", {}, {"conditions": [cond("Verified", "False", "DigestMismatch")]}, ["Rejected"]),
        ("AIModel", {}, {"conditions": [cond("Verified", "False", "SourceUnreachable")]}, []),  # transient
        (
            "AIModel",
            {"conditions": [cond("Verified", "False", "DigestMismatch")]},
            {"conditions": [cond("Verified", "False", "DigestMismatch")]},
            [],
        ),
        ("AIModel", {}, {"decommission": {"certificate": "c", "trigger": "Deletion"}}, ["Decommissioned"]),
        ("AIDeployment", {"servedDigest": DIGEST_1}, {"servedDigest": DIGEST_2}, ["RolledOut"]),
        ("AIDeployment", {"servedDigest": DIGEST_1}, {"servedDigest": DIGEST_1}, []),
        ("AIDeployment", {}, {"conditions": [cond("Quarantined", "True", "ScanFailed")]}, ["Quarantined"]),
        (
            "AIDeployment",
            {"conditions": [cond("Quarantined", "True", "ScanFailed")]},
            {"conditions": [cond("Quarantined", "False", "NotQuarantined")]},
            ["Released"],
        ),
        (
            "AIDeployment",
            {},
            {
                "conditions": [cond("Approved", "True", "Approved")],
                "approval": {"digest": DIGEST_1, "required": 1, "approvers": [{"username": "bob"}]},
            },
            ["Approved"],
        ),
        ("TrustPolicy", {}, {"conditions": [cond("Ready", "True", "Valid")]}, []),
        (
            "AIDeployment",
            {},
            {"lastDrift": {"at": "2026-12-07T10:00:00Z", "objects": "Deployment/svc"}},
            ["DriftReverted"],
        ),
        (
            "AIDeployment",
            {"lastDrift": {"at": "2026-12-07T10:00:00Z", "objects": "Deployment/svc"}},
            {"lastDrift": {"at": "2026-12-07T10:00:00Z", "objects": "Deployment/svc"}},
            [],  # the same drift is recorded once
        ),
    ],
)
def test_decisions_are_status_transitions(
    kind: str, before: dict[str, object], patch: dict[str, object], expected: list[str]
) -> None:
    assert [e.action for e in decisions(kind, REF, before, patch)] == expected


HOSTILE_TEXT = [
    "line\u2028separator",
    "para\u2029graph",
    "next\x85line",
    "form\x0cfeed",
    "tab\tand\rreturn",
    "nul\x00byte",
    "rtl \u202e override",
    "emoji \U0001f600 and \ud7ff",
    "escaped \\u2028 literally",
    '{"audit":"modelguard.io/audit/v1","seq":1}',
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_any_unicode_a_tenant_writes_leaves_the_log_verifiable(text: str, tmp_path: object) -> None:
    """Issue 13, class 6: what the operator prints (adapters/audit_log.dumps) is read back by `audit verify`
    line by line; a field full of separators or escapes must neither split a record nor change its hash."""
    from pathlib import Path

    from modelguard.adapters.audit_log import dumps
    from modelguard.cli.audit import _lines

    records = seal(
        [Entry("Change", "UPDATE", REF, Actor(f"user {text}", (text,)), details={"comment": text})],
        0,
        audit.GENESIS,
        NOW,
    )
    log = Path(str(tmp_path)) / "operator.log"
    log.write_text("operator says hello\n" + "".join(dumps(r) + "\n" for r in records), encoding="utf-8")
    assert all(ord(c) < 128 for c in log.read_text(encoding="utf-8"))  # one ASCII line per record
    parsed = audit.parse_log(_lines([log]))
    assert parsed == records
    assert verify_chain(parsed, audit.checkpoint(1, str(records[0]["hash"]), NOW)).ok


def _signed_log(tmp_path: object, lines: list[str], head: dict[str, object]) -> list[str]:
    """`modelguard audit verify <log> --checkpoint <signed head> --key <operator key>` as argv."""
    from pathlib import Path

    key = crypto.generate("p256")
    base = Path(str(tmp_path))
    (base / "operator.pub").write_bytes(crypto.public_pem(key.public_key()))
    (base / "checkpoint.json").write_text(json.dumps({**head, "signature": signed_json.sign(key, head)}))
    (base / "operator.log").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    checkpoint, public = str(base / "checkpoint.json"), str(base / "operator.pub")
    return ["audit", "verify", str(base / "operator.log"), "--checkpoint", checkpoint, "--key", public]


def _forgeries(record: dict[str, object]) -> dict[str, str]:
    """Lines that parse to exactly `record` (same content, same hash) but are not its one canonical encoding."""
    from modelguard.adapters.audit_log import dumps

    line = dumps(record)
    actor = json.dumps(record["actor"], sort_keys=True, separators=(",", ":"))
    mallory = '{"groups":["system:masters"],"username":"mallory"}'
    return {
        # a reader that keeps the first key (many do) sees mallory; Python's json keeps the last
        "duplicated actor": line.replace(f'"actor":{actor}', f'"actor":{mallory},"actor":{actor}'),
        "whitespace": line.replace('"seq":', '"seq": '),
        "key order": json.dumps(dict(reversed(list(record.items()))), separators=(",", ":")),
        "escapes": line.replace('"alice"', '"\\u0061lice"'),
        "padding": " " + line,
    }


@pytest.mark.parametrize("how", ["duplicated actor", "whitespace", "key order", "escapes", "padding"])
def test_a_record_not_in_its_one_canonical_encoding_is_refused(how: str, tmp_path: object, capsys: object) -> None:
    """Issue 27, item 11: a record with a duplicated "actor" key verified (the last key wins after parsing).
    Every record must be, byte for byte, the one encoding the operator prints; the others stay valid."""
    from modelguard.adapters.audit_log import dumps
    from modelguard.cli.main import main

    records = chain(3)
    head = audit.checkpoint(3, str(records[-1]["hash"]), NOW)
    forged = _forgeries(records[1])[how]
    assert json.loads(forged) == records[1] and forged != dumps(records[1])  # the same record, other bytes
    honest = [dumps(r) for r in records]
    assert main(_signed_log(tmp_path, honest, head)) == 0
    assert main(_signed_log(tmp_path, [honest[0], forged, honest[2]], head)) == 1
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert problems and all("record 2" in p for p in problems), out  # record 2, and no one else's
    assert "mallory" not in out
    # beside an honest copy of the same record it is refused all the same
    assert main(_signed_log(tmp_path, [*honest, forged], head)) == 1


def test_the_report_takes_no_evidence_from_a_ring_record_in_another_encoding() -> None:
    """The compliance report's check of the in-cluster ring reads each record as written, like `audit verify`."""
    from modelguard.adapters import compliance_evidence
    from modelguard.adapters.audit_log import CHECKPOINT, dumps, ring_key

    key = crypto.generate("p256")
    records = chain(3)
    head = audit.checkpoint(3, str(records[-1]["hash"]), NOW)
    point = dumps({**head, "signature": signed_json.sign(key, head)})

    def state(lines: list[str]) -> tuple[object, list[dict[str, object]]]:
        data = {CHECKPOINT: point, **{ring_key(i + 1): line for i, line in enumerate(lines)}}
        return compliance_evidence.audit_state(
            lambda path: {"data": data}, "modelguard-system", crypto.public_pem(key.public_key()), None
        )

    honest = [dumps(r) for r in records]
    assert state(honest)[1] == records
    audited, evidence = state([honest[0], _forgeries(records[1])["duplicated actor"], honest[2]])
    assert evidence == [] and "record 2" in str(audited)

"""The audit trail (TS 104 223 5.1.2-3, 5.2.4-3, 5.4.2-1), pure: records, the hash chain, checkpoints and
the check of a log against a signed checkpoint.

A record is one JSON object. Its `hash` is the SHA-256 of its canonical JSON without `hash`, and it names
the `prev` record's hash, so changing, removing or reordering a record breaks the chain. The newest
record's sequence number and hash, signed with the operator's key, are the checkpoint kept in the cluster:
a log that ends early or was cut short is caught against it.

A record in a log is one line, the one canonical encoding of its content (`encode`): a line that parses to the
same record but differs from it in any byte (a duplicated key, spacing, key order, escapes) does not verify, so
no reader, whichever duplicate key it keeps, sees something other than what was hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from modelguard.domain import safe_json

SCHEMA = "modelguard.io/audit/v1"
GENESIS = "sha256:" + "0" * 64
OPERATOR_ACTOR = "system:modelguard-operator"

RecordType = Literal["Change", "Decision"]


@dataclass(frozen=True)
class Actor:
    username: str
    groups: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        return {"username": self.username, "groups": list(self.groups)}


OPERATOR = Actor(OPERATOR_ACTOR)


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    def wire(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class Entry:
    """What happened, before it is sealed into the chain."""

    type: RecordType
    action: str  # CREATE, UPDATE, DELETE for changes; Verified, Rejected, RolledOut... for decisions
    object: ObjectRef
    actor: Actor = OPERATOR
    old_hash: str | None = None
    new_hash: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """What a record says about the entry (the record adds seq, time, prev and hash)."""
        return {
            "type": self.type,
            "action": self.action,
            "object": self.object.wire(),
            "actor": self.actor.wire(),
            "oldHash": self.old_hash,
            "newHash": self.new_hash,
            "details": dict(sorted(self.details.items())),
        }


def content_hash(value: Any) -> str:
    """`sha256:<hex>` of a value's canonical JSON (a spec, a prompt)."""
    if isinstance(value, str):
        data = value.encode()
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(record: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(record)).hexdigest()


def seal(entries: Iterable[Entry], head_seq: int, head_hash: str, now: datetime) -> list[dict[str, Any]]:
    """Turn entries into records that continue the chain after (head_seq, head_hash)."""
    records = []
    seq, prev = head_seq, head_hash
    for entry in entries:
        seq += 1
        record: dict[str, Any] = {
            "audit": SCHEMA,
            "seq": seq,
            "time": now.isoformat().replace("+00:00", "Z"),
            **entry.wire(),
            "prev": prev,
        }
        record["hash"] = record_hash(record)
        prev = record["hash"]
        records.append(record)
    return records


RETRIED_ACTIONS = frozenset({"UPDATE", "ANNOTATE"})


def change_fingerprint(record: Mapping[str, Any]) -> tuple[tuple[str, str, str], str] | None:
    """(object, fingerprint) of a Change record in wire form, None for decisions. Two records with the same
    fingerprint say the same thing: the same actor moved the same object from the same spec to the same one."""
    if record.get("type") != "Change":
        return None
    obj = record.get("object") or {}
    key = (str(obj.get("kind", "")), str(obj.get("namespace", "")), str(obj.get("name", "")))
    said = {k: record.get(k) for k in ("action", "actor", "oldHash", "newHash", "details")}
    return key, content_hash(said)


def entry_fingerprint(entry: Entry) -> tuple[tuple[str, str, str], str] | None:
    return change_fingerprint(entry.wire())


def repeats_last_change(entry: Entry, last: Mapping[tuple[str, str, str], str]) -> bool:
    """An update identical to the object's last change record: the API server ran admission again for the
    same request (it retries a write that lost a resourceVersion conflict), so it is not a second change.
    A real second update cannot look like this: it starts from the spec the first one produced, and every
    spec change goes through admission (CREATE included, so a re-created object breaks the sequence)."""
    found = entry_fingerprint(entry)
    if found is None or entry.action not in RETRIED_ACTIONS:
        return False
    key, fingerprint = found
    return last.get(key) == fingerprint


def checkpoint(seq: int, head: str, now: datetime) -> dict[str, Any]:
    """What the operator signs after each commit (the signature is added by the caller)."""
    return {"audit": SCHEMA, "seq": seq, "hash": head, "time": now.isoformat().replace("+00:00", "Z")}


def encode(record: Mapping[str, Any]) -> str:
    """The one encoding of a record (or a checkpoint) as a log line: keys sorted, no spaces, ASCII only (whatever
    Unicode a field holds is escaped, so no log tool splits or mangles the line). Its hash covers the content,
    which this encoding, and only this one, gives back byte for byte."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _read(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(line, record) for each line of a log that is an audit record, whatever its spelling."""
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            value = safe_json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("audit") == SCHEMA and type(value.get("seq")) is int:
            yield line, value


def parse_log(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The audit records in a log (other lines, like the operator's own log output, are skipped). Verification
    reads the lines themselves (`verify_log`)."""
    return [record for _, record in _read(lines)]


@dataclass
class ChainReport:
    first: int | None = None
    last: int | None = None
    records: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _ranges(numbers: list[int]) -> str:
    parts, start = [], numbers[0]
    for prev, cur in zip(numbers, [*numbers[1:], None], strict=True):
        if cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            if cur is not None:
                start = cur
    return ", ".join(parts)


def verify_chain(
    records: Iterable[Mapping[str, Any]], signed_head: Mapping[str, Any] | None, *, partial: bool = False
) -> ChainReport:
    """Check records (any order, duplicates allowed when identical) as one chain, and against the signed
    checkpoint when given (its signature is checked by the caller). What is present must link and must reach
    the checkpoint; it must also start at record 1 and end at the checkpoint, unless `partial` (a rotated
    log, the cluster's ring of recent records) asks for less, which turns those two into notes."""
    report = ChainReport()
    by_seq: dict[int, Mapping[str, Any]] = {}
    for record in records:
        seq = int(record["seq"])
        if record_hash(record) != record.get("hash"):
            report.problems.append(f"record {seq}: content does not match its hash (altered)")
            continue
        known = by_seq.get(seq)
        if known is not None and known.get("hash") != record.get("hash"):
            report.problems.append(f"record {seq}: two different records carry this number")
            continue
        by_seq[seq] = record
    if not by_seq:
        report.problems.append("no audit records found")
        return report
    order = sorted(by_seq)
    report.first, report.last, report.records = order[0], order[-1], len(order)
    missing = sorted(set(range(order[0], order[-1] + 1)) - set(order))
    if missing:
        report.problems.append(f"records missing from the log: {_ranges(missing)}")
    if order[0] == 1 and by_seq[1].get("prev") != GENESIS:
        report.problems.append("record 1 does not start the chain")
    for seq in order[1:]:
        before = by_seq.get(seq - 1)
        if before is not None and by_seq[seq].get("prev") != before.get("hash"):
            report.problems.append(f"record {seq}: does not follow record {seq - 1} (chain broken)")
    if order[0] > 1:
        start = f"the log starts at record {order[0]}; records 1-{order[0] - 1} were not checked"
        (report.notes if partial else report.problems).append(start)
    if signed_head is not None:
        _against_checkpoint(report, by_seq, signed_head, partial)
    return report


def verify_log(lines: Iterable[str], signed_head: Mapping[str, Any] | None, *, partial: bool = False) -> ChainReport:
    """`verify_chain` of the records in log lines, each of which must also be its record's one canonical
    encoding (`encode`; a line may end in a carriage return, which is the line's end, not the record's)."""
    records: list[dict[str, Any]] = []
    refused: dict[int, str] = {}
    for line, record in _read(lines):
        records.append(record)
        if line.removesuffix("\r") != encode(record):
            refused[record["seq"]] = (
                f"record {record['seq']}: not in its one canonical encoding (a duplicated key, spacing, key order "
                "or escapes differ from what the operator prints): refused"
            )
    report = verify_chain(records, signed_head, partial=partial)
    report.problems[:0] = refused.values()
    return report


def _against_checkpoint(
    report: ChainReport, by_seq: Mapping[int, Mapping[str, Any]], head: Mapping[str, Any], partial: bool
) -> None:
    uncovered = report.notes if partial else report.problems
    seq, expected = int(head.get("seq", 0)), head.get("hash")
    assert report.last is not None
    if seq > report.last:
        report.problems.append(
            f"the signed checkpoint is at record {seq} but the log ends at {report.last}: "
            f"records {report.last + 1}-{seq} are missing"
        )
    elif seq in by_seq:
        if by_seq[seq].get("hash") != expected:
            report.problems.append(f"record {seq}: differs from the signed checkpoint")
        if report.last > seq:
            uncovered.append(f"records {seq + 1}-{report.last} are newer than the signed checkpoint (not covered)")
    else:
        uncovered.append(f"the log starts after the signed checkpoint (record {seq}); it was not compared")


def change_entry(
    ref: ObjectRef,
    operation: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    actor: Actor,
    audited_annotations: Iterable[str] = (),
    details: Mapping[str, str] | None = None,
) -> Entry | None:
    """The record of an admitted change (None for an update that changes nothing audited: status, finalizers,
    bookkeeping). `old`/`new` are whole objects; their specs are hashed."""
    old_spec = (old or {}).get("spec") if old is not None else None
    new_spec = (new or {}).get("spec") if new is not None else None
    extra = dict(details or {})
    action = operation
    if operation == "UPDATE" and old_spec == new_spec:
        before = ((old or {}).get("metadata") or {}).get("annotations") or {}
        after = ((new or {}).get("metadata") or {}).get("annotations") or {}
        changed = sorted(k for k in audited_annotations if before.get(k) != after.get(k))
        if not changed:
            return None
        action = "ANNOTATE"
        extra.update({f"annotation:{k}": str(after.get(k, "<removed>")) for k in changed})
    elif operation == "UPDATE" and isinstance(old_spec, Mapping) and isinstance(new_spec, Mapping):
        # which parts changed (gateway, rateLimit, authentication, access...: how the model behaves to its
        # clients), beside the hashes of the whole specs
        fields = sorted(k for k in {*old_spec, *new_spec} if old_spec.get(k) != new_spec.get(k))
        extra["changed"] = ",".join(fields)[:1000]
    return Entry(
        "Change",
        action,
        ref,
        actor=actor,
        old_hash=content_hash(old_spec) if old_spec is not None else None,
        new_hash=content_hash(new_spec) if new_spec is not None else None,
        details=extra,
    )

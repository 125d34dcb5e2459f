"""The audit log's commit protocol, against an in-memory ConfigMap with real optimistic concurrency.

The real API server is exercised by tests/integration/test_audit.py; here the crash windows are forced.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from modelguard.adapters import audit_log
from modelguard.adapters.audit_log import AuditLog, AuditUnavailable
from modelguard.adapters.kube import KubeError
from modelguard.domain import audit, crypto, signed_json
from modelguard.domain.audit import Entry, ObjectRef

KEY = crypto.generate("p256")
REF = ObjectRef("AIModel", "team-a", "m")


class FakeKey:
    async def get(self) -> Any:
        return KEY


class FakeConfigMaps:
    """get/create/merge_patch of one ConfigMap, with resourceVersion preconditions as the API server has."""

    def __init__(self) -> None:
        self.cm: dict[str, Any] | None = None
        self.version = 0
        self.writes = 0
        self.fail = False

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        return copy.deepcopy(self.cm)

    async def create(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        if self.fail:
            raise KubeError(0, "Unreachable", "down")
        if self.cm is not None:
            raise KubeError(409, "AlreadyExists", "")
        self.version += 1
        self.writes += 1
        self.cm = {**copy.deepcopy(obj), "metadata": {**obj["metadata"], "resourceVersion": str(self.version)}}
        return copy.deepcopy(self.cm)

    async def merge_patch(
        self, res: Any, namespace: str | None, name: str, patch: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        if self.fail:
            raise KubeError(0, "Unreachable", "down")
        if self.cm is None:
            raise KubeError(404, "NotFound", "configmaps not found")
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != self.cm["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", "the object has been modified")
        self.version += 1
        self.writes += 1
        for key, value in (patch.get("data") or {}).items():
            if value is None:
                self.cm["data"].pop(key, None)
            else:
                self.cm["data"][key] = value
        self.cm["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.cm)


def log_with(kube: FakeConfigMaps, lines: list[str], **kwargs: Any) -> AuditLog:
    return AuditLog(kube, "ns", FakeKey(), emit=lines.append, **kwargs)  # type: ignore[arg-type]


def entry(i: int) -> Entry:
    return Entry("Change", "UPDATE", REF, details={"i": str(i)})


def test_concurrent_appends_share_one_chain_and_few_writes() -> None:
    kube, lines = FakeConfigMaps(), []
    commits: list[tuple[float, int]] = []

    async def main() -> None:
        log = log_with(kube, lines, on_commit=lambda seconds, n: commits.append((seconds, n)))
        await asyncio.gather(*(log.append([entry(i)]) for i in range(50)))

    asyncio.run(main())
    records = audit.parse_log(lines)
    assert sorted(r["seq"] for r in records) == list(range(1, 51))
    assert kube.writes < 50  # group commit
    # every commit is observed once with its batch (the metrics of the group commit)
    assert len(commits) == kube.writes and sum(n for _, n in commits) == 50
    assert all(seconds >= 0 for seconds, _ in commits)
    point = json.loads(kube.cm["data"][audit_log.CHECKPOINT])  # type: ignore[index]
    assert audit.verify_chain(records, point).ok
    assert signed_json.verify(crypto.public_pem(KEY.public_key()), point, "checkpoint") is None


def test_two_writers_never_fork_the_chain() -> None:
    kube, lines_a, lines_b = FakeConfigMaps(), [], []

    async def main() -> None:
        a, b = log_with(kube, lines_a), log_with(kube, lines_b)
        await asyncio.gather(*(w.append([entry(i)]) for i in range(20) for w in (a, b)))

    asyncio.run(main())
    records = audit.parse_log(lines_a + lines_b)
    point = json.loads(kube.cm["data"][audit_log.CHECKPOINT])  # type: ignore[index]
    report = audit.verify_chain(records, point)
    assert report.ok and report.records == 40


def test_a_crash_between_commit_and_print_is_replayed_at_start() -> None:
    kube, lines = FakeConfigMaps(), []

    def dies(line: str) -> None:
        raise BrokenPipeError  # as if the process died after the commit, before the line was out

    async def crash() -> None:
        await log_with(kube, lines).append([entry(1)])
        crashing = AuditLog(kube, "ns", FakeKey(), emit=dies)  # type: ignore[arg-type]
        await crashing.append([entry(2)])  # committed, so it returns: the caller may act

    async def restart() -> None:
        await log_with(kube, lines).start()

    asyncio.run(crash())
    assert [r["seq"] for r in audit.parse_log(lines)] == [1]
    asyncio.run(restart())
    point = json.loads(kube.cm["data"][audit_log.CHECKPOINT])  # type: ignore[index]
    assert audit.verify_chain(audit.parse_log(lines), point).ok  # record 2 came back


def test_nothing_is_emitted_when_the_commit_fails() -> None:
    kube, lines = FakeConfigMaps(), []
    kube.fail = True
    commits: list[tuple[float, int]] = []

    async def main() -> None:
        try:
            await log_with(kube, lines, on_commit=lambda s, n: commits.append((s, n))).append([entry(1)])
        except AuditUnavailable as exc:
            assert exc.reason == "AuditUnavailable"
        else:
            raise AssertionError("a failed commit must raise")

    asyncio.run(main())
    assert lines == [] and commits == []  # a failed commit is not observed as one


def test_the_ring_keeps_the_newest_records() -> None:
    kube, lines = FakeConfigMaps(), []

    async def main() -> None:
        log = log_with(kube, lines, ring=5)
        for i in range(12):
            await log.append([entry(i)])

    asyncio.run(main())
    ring = audit_log.ring_records(kube.cm["data"])  # type: ignore[index]
    assert [r["seq"] for r in ring] == [8, 9, 10, 11, 12]
    assert kube.writes == 12  # one request per commit: the head is remembered, not read again


def test_the_operator_refuses_a_plain_http_sink(capsys: object) -> None:
    from modelguard.cli.main import main

    assert main(["run", "--audit-sink", "http://siem.example/ingest"]) == 2
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "--audit-sink must be an https:// URL" in out


def test_a_deleted_or_altered_head_does_not_restart_the_chain() -> None:
    kube, lines = FakeConfigMaps(), []

    async def main() -> None:
        log = log_with(kube, lines)
        await log.append([entry(1)])
        await log.append([entry(2)])
        kube.cm = None  # someone deletes the ConfigMap
        await log.append([entry(3)])
        assert kube.cm is not None
        point = json.loads(kube.cm["data"][audit_log.CHECKPOINT])
        kube.cm["data"][audit_log.CHECKPOINT] = json.dumps({**point, "seq": 1})  # ... or rewinds the head
        await log.append([entry(4)])

    asyncio.run(main())
    records = audit.parse_log(lines)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert audit.verify_chain(records, None).ok  # one chain: each record follows the one before


ALICE = audit.Actor("alice", ("system:authenticated",))


def change(action: str, old: str | None, new: str | None, ref: ObjectRef = REF) -> Entry:
    return Entry("Change", action, ref, actor=ALICE, old_hash=old, new_hash=new)


def changes(lines: list[str]) -> list[tuple[str, str | None, str | None]]:
    mine = sorted((r for r in audit.parse_log(lines) if r["actor"]["username"] == "alice"), key=lambda r: r["seq"])
    return [(r["action"], r["oldHash"], r["newHash"]) for r in mine]


def test_admission_run_again_for_one_update_is_recorded_once() -> None:
    """The API server retries a write that lost a conflict and runs admission again: same change, one record;
    going back and forth is three changes."""
    kube, lines = FakeConfigMaps(), []

    async def main() -> list[list[dict[str, Any]]]:
        log = log_with(kube, lines)
        first = await log.append([change("UPDATE", "a", "b")])
        again = await log.append([change("UPDATE", "a", "b")])
        both = await log.append([change("UPDATE", "b", "a"), change("UPDATE", "a", "b"), change("UPDATE", "a", "b")])
        return [first, again, both]

    first, again, both = asyncio.run(main())
    assert changes(lines) == [("UPDATE", "a", "b"), ("UPDATE", "b", "a"), ("UPDATE", "a", "b")]
    assert len(first) == 1 and again == [] and len(both) == 2
    assert kube.writes == 2  # nothing new, nothing written


def test_creations_and_other_objects_are_never_taken_for_a_rerun() -> None:
    kube, lines = FakeConfigMaps(), []
    other = ObjectRef("AIModel", "team-b", "m")

    async def main() -> None:
        log = log_with(kube, lines)
        for _ in range(2):  # created, deleted without a record, created again: two creations
            await log.append([change("CREATE", None, "a")])
        await log.append([change("UPDATE", "a", "b")])
        await log.append([change("UPDATE", "a", "b", other)])

    asyncio.run(main())
    assert changes(lines) == [("CREATE", None, "a"), ("CREATE", None, "a"), ("UPDATE", "a", "b"), ("UPDATE", "a", "b")]


def test_a_rerun_answered_by_another_replica_is_recorded_once() -> None:
    kube, lines_a, lines_b = FakeConfigMaps(), [], []

    async def main() -> None:
        a, b = log_with(kube, lines_a), log_with(kube, lines_b)
        await b.append([entry(0)])  # b knows a head, which a's commit makes stale
        await a.append([change("UPDATE", "a", "b")])
        await b.append([change("UPDATE", "a", "b")])  # conflict, read the head and the ring: already there

    asyncio.run(main())
    assert changes(lines_a + lines_b) == [("UPDATE", "a", "b")]


def test_a_replica_that_missed_records_forgets_rather_than_drops_a_change() -> None:
    """Another replica committed more than the ring holds: it may have changed the object back, so the same
    update is recorded again rather than taken for a rerun."""
    kube, lines_a, lines_b = FakeConfigMaps(), [], []

    async def main() -> None:
        a, b = log_with(kube, lines_a, ring=3), log_with(kube, lines_b, ring=3)
        await a.append([change("UPDATE", "a", "b")])
        await b.append([change("UPDATE", "b", "a")])
        for i in range(4):
            await b.append([entry(i)])
        await a.append([change("UPDATE", "a", "b")])

    asyncio.run(main())
    assert changes(lines_a + lines_b) == [("UPDATE", "a", "b"), ("UPDATE", "b", "a"), ("UPDATE", "a", "b")]

"""The audit log: one hash chain for the whole cluster, committed to a ConfigMap before anything is emitted.

Commit protocol (every replica, every restart): seal the new records after the head of the chain in the
ConfigMap `modelguard-audit`, and merge-patch the new head (signed checkpoint), the new records (one key
each) and the removal of records older than the last RING, with the ConfigMap's resourceVersion as
precondition; a conflict (another replica committed first) reads the new head and seals again. The head
is remembered between commits, so a commit is one request while this process is the only writer.
Only then are the records printed to stdout as JSON lines and queued for the HTTP sink, and only
then does `append` return: callers record before they act (at-least-once).

The API server runs admission again when it retries a write that lost a resourceVersion conflict, so the
same change can be reported twice: an update identical to the object's last change record (known from this
process's commits and from the ring whenever the head is read) is not recorded again.

A crash between commit and print loses nothing: at start-up the ring is printed again (identical lines,
which `modelguard audit verify` accepts as duplicates), and records the sink has not confirmed are sent
again. Concurrent appends in one process are committed together (one write for many records).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelguard.adapters.http import HttpClient
from modelguard.adapters.kube import Kube, KubeError
from modelguard.adapters.resources import CONFIGMAPS
from modelguard.adapters.signing_key import OperatorKey
from modelguard.api.condition_reasons import Reason
from modelguard.domain import audit, crypto, signed_json
from modelguard.domain.audit import Entry
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.ocsf import SinkFormat, to_ocsf

log = logging.getLogger(__name__)

CONFIGMAP = "modelguard-audit"
CHECKPOINT = "checkpoint.json"
RING_PREFIX = "record-"
DELIVERED = "sink.delivered"
EVENTS_KEPT = 1000  # security events waiting for the sink at most
RING = 128
COMMIT_ATTEMPTS = 20


def ring_key(seq: int) -> str:
    return f"{RING_PREFIX}{seq:012d}"


def ring_lines(data: Mapping[str, str]) -> list[str]:
    """The records kept in the ConfigMap as written (one key each, so a commit patches only what changed),
    oldest first."""
    return [data[k] for k in sorted(data) if k.startswith(RING_PREFIX)]


def ring_records(data: Mapping[str, str]) -> list[dict[str, Any]]:
    return audit.parse_log(ring_lines(data))


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    version: str | None  # the ConfigMap's resourceVersion; None when it does not exist yet
    signed: bool = True  # the stored checkpoint's signature verifies (a new chain has none to check)


def _head_of(cm: Mapping[str, Any] | None, public_pem: bytes) -> Head:
    if cm is None:
        return Head(0, audit.GENESIS, None)
    version = str(cm["metadata"]["resourceVersion"])
    try:
        point = json.loads(((cm.get("data") or {}).get(CHECKPOINT)) or "{}")
        seq, head = int(point.get("seq", 0)), str(point.get("hash", audit.GENESIS))
    except (TypeError, ValueError):
        return Head(0, audit.GENESIS, version, signed=False)
    signed = seq == 0 or signed_json.verify(public_pem, point, "checkpoint") is None
    return Head(seq, head, version, signed)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def dumps(record: dict[str, Any]) -> str:
    """One line of ASCII, the one encoding `audit verify` accepts (domain/audit.encode)."""
    return audit.encode(record)


class AuditUnavailable(Retry):
    """The record could not be committed: the caller must not act (fail closed), and tries again."""

    def __init__(self, why: str) -> None:
        super().__init__(Reason.AUDIT_UNAVAILABLE, f"the audit record could not be committed ({why})")


class HttpSink:
    """POSTs records as JSON lines (application/x-ndjson), as they are or as OCSF events (ADR 0017); a 2xx
    answer confirms them."""

    def __init__(
        self, url: str, client: HttpClient, token: str | None = None, event_format: SinkFormat = "modelguard"
    ) -> None:
        self._url, self._client, self._token = url, client, token
        self.event_format = event_format
        self._convert: Callable[[dict[str, Any]], dict[str, Any]] = to_ocsf if event_format == "ocsf" else dict

    def send(self, records: Sequence[dict[str, Any]]) -> None:
        self.send_events([self._convert(r) for r in records])

    def send_events(self, events: Sequence[dict[str, Any]]) -> None:
        """POST events as they are (already in the sink's format)."""
        headers = {"Content-Type": "application/x-ndjson"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = "".join(dumps(e) + "\n" for e in events).encode()
        with self._client.open(self._url, headers=headers, method="POST", data=body) as response:
            response.read(1024)


class AuditLog:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        key: OperatorKey,
        *,
        emit: Callable[[str], None] = _stdout,
        sink: HttpSink | None = None,
        clock: Callable[[], datetime] = _now,
        ring: int = RING,
        retry_delay: float = 2.0,
        on_commit: Callable[[float, int], None] | None = None,
    ) -> None:
        self._kube, self._namespace, self._key = kube, namespace, key
        self._emit, self._sink, self._clock, self._ring = emit, sink, clock, ring
        self._retry_delay = retry_delay
        self._on_commit = on_commit  # (seconds, records) of every successful commit: metrics
        self._pending: list[tuple[list[Entry], asyncio.Future[list[dict[str, Any]]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._unsent: dict[int, dict[str, Any]] = {}
        self._sink_wakeup = asyncio.Event()
        self._sink_task: asyncio.Task[None] | None = None
        self._head: Head | None = None
        self._known: Head | None = None  # the last head this process committed
        self._last_change: dict[tuple[str, str, str], str] = {}  # object -> fingerprint of its last change
        # security events outside the chain (admission refusals, OCSF sinks only): bounded, oldest dropped
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=EVENTS_KEPT)
        self.events_dropped = 0

    def security_event(self, event: dict[str, Any]) -> None:
        """Queue an OCSF event for the sink (nothing without an OCSF sink). Best effort and bounded: a flood of
        refusals drops the oldest refusals, never an audit record."""
        if self._sink is None or self._sink.event_format != "ocsf":
            return
        if len(self._events) == self._events.maxlen:
            self.events_dropped += 1
        self._events.append(event)
        self._sink_wakeup.set()

    def backlog(self) -> int:
        """Committed records the HTTP sink has not confirmed yet."""
        return len(self._unsent)

    async def start(self) -> None:
        """Re-emit the committed ring (a crash may have cut the last lines) and queue what the sink lacks."""
        cm = await self._kube.get(CONFIGMAPS, self._namespace, CONFIGMAP)
        data = (cm or {}).get("data") or {}
        ring = ring_records(data)
        for record in ring:
            self._emit(dumps(record))
        if ring:
            log.info("audit: re-emitted records %d-%d from the in-cluster ring", ring[0]["seq"], ring[-1]["seq"])
        if self._sink is not None:
            delivered = int(str(data.get(DELIVERED, "0")) or 0)
            self._unsent.update({r["seq"]: r for r in ring if r["seq"] > delivered})
            self._sink_task = asyncio.create_task(self._deliver(), name="audit-sink")
            self._sink_wakeup.set()

    async def stop(self) -> None:
        if self._sink_task is not None:
            self._sink_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sink_task

    async def append(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """Commit entries to the chain; returns their records. Raises AuditUnavailable when it cannot."""
        if not entries:
            return []
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending.append((list(entries), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="audit-commit")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            entries = [entry for group, _ in batch for entry in group]
            started = time.monotonic()
            try:
                records, kept = await self._commit(entries)
            except Exception as exc:  # every caller learns it failed
                log.error("audit: could not commit %d records: %s", len(entries), type(exc).__name__)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(AuditUnavailable(type(exc).__name__))
                continue
            if self._on_commit is not None and records:
                self._on_commit(time.monotonic() - started, len(records))
            try:
                for record in records:
                    self._emit(dumps(record))
            except Exception as exc:  # committed: the ring brings them back at the next start
                log.error("audit: could not print committed records (%s)", type(exc).__name__)
            if self._sink is not None:
                self._unsent.update({r["seq"]: r for r in records})
                self._sink_wakeup.set()
            by_position = dict(zip(kept, records, strict=True))
            start = 0
            for group, future in batch:
                mine = [by_position[i] for i in range(start, start + len(group)) if i in by_position]
                if not future.done():
                    future.set_result(mine)
                start += len(group)

    async def _commit(self, entries: list[Entry]) -> tuple[list[dict[str, Any]], list[int]]:
        """Seal and commit the entries that are news; returns their records and those entries' positions."""
        private = await self._key.get()
        for _ in range(COMMIT_ATTEMPTS):
            fresh = self._head is None
            if self._head is None:  # first commit, or after a conflict: read where the chain stands
                stored = await self._kube.get(CONFIGMAPS, self._namespace, CONFIGMAP)
                self._head = self._continue(_head_of(stored, crypto.public_pem(private.public_key())))
                self._learn(ring_records((stored or {}).get("data") or {}))
            head = self._head
            kept = self._news(entries)
            if not kept:
                if not fresh:  # nothing to write means no conflict to tell what others did: read first
                    self._head = None
                    continue
                return [], []
            now = self._clock()
            records = audit.seal([entries[i] for i in kept], head.seq, head.hash, now)
            last = records[-1]
            point = audit.checkpoint(last["seq"], last["hash"], now)
            point["signature"] = signed_json.sign(private, point)
            data: dict[str, str | None] = {CHECKPOINT: dumps(point)}
            data.update({ring_key(r["seq"]): dumps(r) for r in records})
            data.update({ring_key(seq - self._ring): None for seq in range(head.seq + 1, last["seq"] + 1)})
            try:
                if head.version is None:
                    written = await self._kube.create(
                        CONFIGMAPS, self._body({k: v for k, v in data.items() if v is not None})
                    )
                else:
                    patch = {"metadata": {"resourceVersion": head.version}, "data": data}
                    written = await self._kube.merge_patch(CONFIGMAPS, self._namespace, CONFIGMAP, patch)
            except KubeError as exc:
                self._head = None
                if exc.conflict or exc.not_found:
                    continue  # another replica committed first (seal again after its head), or it was deleted
                raise
            self._head = self._known = Head(
                int(last["seq"]), str(last["hash"]), str(written["metadata"]["resourceVersion"])
            )
            self._remember(records)
            return records, kept
        raise AuditUnavailable("too much contention on the audit ConfigMap")

    def _news(self, entries: list[Entry]) -> list[int]:
        """Positions of the entries that are not admission re-runs of a change already recorded (nor of one
        earlier in this batch)."""
        last, news = dict(self._last_change), []
        for i, entry in enumerate(entries):
            if audit.repeats_last_change(entry, last):
                log.info("audit: %s of %s already recorded (admission ran again)", entry.action, entry.object)
                continue
            news.append(i)
            found = audit.entry_fingerprint(entry)
            if found is not None:
                last[found[0]] = found[1]
        return news

    def _remember(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            found = audit.change_fingerprint(record)
            if found is not None:
                self._last_change[found[0]] = found[1]

    def _learn(self, ring: Sequence[Mapping[str, Any]]) -> None:
        """Catch up with what other replicas committed. When the ring no longer holds every record since this
        process's last commit, what it remembers may be stale, so it forgets it (it may then record a re-run
        twice, never drop a change)."""
        since = self._known.seq if self._known is not None else 0
        if not ring or int(ring[0].get("seq", 0)) > since + 1:
            self._last_change.clear()
        self._remember([r for r in ring if int(r.get("seq", 0)) > since])

    def _continue(self, stored: Head) -> Head:
        """The head to seal after: the stored one, unless the ConfigMap vanished or went back behind what
        this process committed, in which case the chain goes on from what this process knows (and says so)."""
        known = self._known
        if not stored.signed:
            log.error("audit: the stored checkpoint of %s does not verify (altered?)", CONFIGMAP)
            if known is not None:
                return Head(known.seq, known.hash, stored.version)
        if known is None or stored.seq >= known.seq:
            return stored
        log.error(
            "audit: the stored head (record %d) is behind record %d committed by this process: the ConfigMap "
            "%s was deleted or replaced; continuing the chain after record %d",
            stored.seq,
            known.seq,
            CONFIGMAP,
            known.seq,
        )
        return Head(known.seq, known.hash, stored.version)

    def _body(self, data: Mapping[str, str | None]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": CONFIGMAP,
                "namespace": self._namespace,
                "labels": {"app.kubernetes.io/part-of": "modelguard"},
            },
            "data": data,
        }

    async def _deliver(self) -> None:
        assert self._sink is not None
        while True:
            await self._sink_wakeup.wait()
            self._sink_wakeup.clear()
            while self._unsent:
                batch = [self._unsent[seq] for seq in sorted(self._unsent)][:500]
                try:
                    await asyncio.to_thread(self._sink.send, batch)
                    await self._kube.merge_patch(
                        CONFIGMAPS, self._namespace, CONFIGMAP, {"data": {DELIVERED: str(batch[-1]["seq"])}}
                    )
                except (Retry, VerificationError, KubeError, OSError) as exc:
                    log.warning("audit: sink delivery failed (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(self._retry_delay)
                    continue
                for record in batch:
                    self._unsent.pop(record["seq"], None)
            while self._events:  # after the records: the chain goes first
                events = list(self._events)[:500]
                try:
                    await asyncio.to_thread(self._sink.send_events, events)
                except (Retry, VerificationError, KubeError, OSError) as exc:
                    log.warning("audit: sink delivery of security events failed (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(self._retry_delay)
                    continue
                sent = {id(e) for e in events}  # those a flood pushed out meanwhile are gone already
                while self._events and id(self._events[0]) in sent:
                    self._events.popleft()

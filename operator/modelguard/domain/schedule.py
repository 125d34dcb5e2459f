"""When maintenance scans are due (pure): cron in UTC plus a stable per-object jitter."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from croniter import croniter

MAX_JITTER = timedelta(minutes=10)


def valid(schedule: str) -> bool:
    return bool(croniter.is_valid(schedule))


def jitter(uid: str, interval: timedelta) -> timedelta:
    """A stable offset in [0, min(interval/10, 10 min)) so that objects on one schedule do not start together."""
    span = min(interval / 10, MAX_JITTER)
    fraction = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big") / 2**64
    return timedelta(seconds=int(span.total_seconds() * fraction))


def next_due(schedule: str, after: datetime, uid: str) -> datetime:
    """The first scheduled time strictly after `after`, plus the object's jitter."""
    base = after.astimezone(UTC) - jitter(uid, _interval(schedule, after))
    nxt: datetime = croniter(schedule, base).get_next(datetime)
    return (nxt.replace(tzinfo=UTC) if nxt.tzinfo is None else nxt) + jitter(uid, _interval(schedule, after))


def _interval(schedule: str, at: datetime) -> timedelta:
    it = croniter(schedule, at.astimezone(UTC))
    first: datetime = it.get_next(datetime)
    second: datetime = it.get_next(datetime)
    return second - first

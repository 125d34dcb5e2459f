"""Errors shared by the pure layers."""

from __future__ import annotations


class VerificationError(Exception):
    """Verification failed; `reason` is the CamelCase condition reason, `message` one line for humans.

    Messages never contain key material or credentials, only names, ids and digests.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Retry(Exception):
    """A transient problem (unreachable source, conflict): try again later with backoff."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Deferred(Retry):
    """Not a failure: the work waits for capacity and its key is woken when there is some. No backoff; the
    key is looked at again after `fallback` seconds in case the wake-up is lost."""

    def __init__(self, reason: str, message: str, fallback: float = 30.0) -> None:
        super().__init__(reason, message)
        self.fallback = fallback

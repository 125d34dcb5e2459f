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

"""Compare what was signed with what was found (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import Resource, SignedManifest


def compare(expected: SignedManifest, actual: Mapping[str, Resource]) -> None:
    """Raise the most telling VerificationError when the found resources differ from the signed ones."""
    signed = expected.by_name()
    signed_paths = {r.path for r in expected.resources}
    found_paths = {r.path for r in actual.values()}
    missing = sorted(signed_paths - found_paths)
    if missing:
        raise VerificationError(Reason.MISSING_FILE, f"{len(missing)} signed file(s) missing, e.g. {missing[0]!r}")
    unsigned = sorted(found_paths - signed_paths)
    if unsigned:
        raise VerificationError(
            Reason.UNSIGNED_FILE, f"{len(unsigned)} file(s) not covered by the signature, e.g. {unsigned[0]!r}"
        )
    changed = sorted(
        {r.path for name, r in actual.items() if signed.get(name) != r.digest}
        | {expected_r.path for expected_r in expected.resources if expected_r.name not in actual}
    )
    if changed:
        raise VerificationError(
            Reason.DIGEST_MISMATCH, f"{len(changed)} file(s) differ from what was signed, e.g. {changed[0]!r}"
        )

"""Trust decisions: which key signed, may it sign now, does the policy apply (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.api.condition_reasons import Reason
from modelguard.domain.crypto import key_hint, load_public_key
from modelguard.domain.errors import VerificationError

if TYPE_CHECKING:  # the API models (pydantic) are not loaded by `modelguard verify`
    from modelguard.api.base import LabelSelector


@dataclass(frozen=True)
class TrustedKey:
    """A policy key with its PEM resolved (inline or from a Secret)."""

    id: str
    pem: bytes
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return load_public_key(self.pem)

    what = "signing key"

    def validate(self) -> None:
        """Raises VerificationError unless the PEM is a usable trust anchor."""
        self.public_key()

    def usable_at(self, now: datetime) -> VerificationError | None:
        if self.revoked:
            return VerificationError(Reason.KEY_REVOKED, f"{self.what} {self.id!r} is revoked by the TrustPolicy")
        if self.not_before is not None and now < self.not_before:
            return VerificationError(
                Reason.KEY_NOT_YET_VALID, f"{self.what} {self.id!r} is not valid before {self.not_before.isoformat()}"
            )
        if self.not_after is not None and now > self.not_after:
            return VerificationError(
                Reason.KEY_EXPIRED, f"{self.what} {self.id!r} expired at {self.not_after.isoformat()}"
            )
        return None


@dataclass(frozen=True)
class TrustedCA(TrustedKey):
    """CA certificates (PEM) whose signing certificates are trusted (the certificate method), with the same
    validity window and revocation as a key."""

    what = "CA"

    def validate(self) -> None:
        from modelguard.domain.x509_chain import load_roots

        load_roots(self.pem)


def anchor_of(signer: str, anchors: Sequence[TrustedKey]) -> TrustedKey | None:
    """The key or CA a recorded signer came from: a key's id, or `<CA id>:<certificate subject>`."""
    for anchor in anchors:
        if signer == anchor.id if not isinstance(anchor, TrustedCA) else signer.startswith(anchor.id + ":"):
            return anchor
    return None


def authenticate_chain(
    anchors: Sequence[TrustedKey],
    chain: Sequence[bytes],
    check: Callable[[ec.EllipticCurvePublicKey], bool],
    now: datetime,
) -> str:
    """`<CA id>:<signing certificate subject>` of the first usable CA the chain leads to and whose signing
    certificate's key verifies the signature; raises the most telling refusal otherwise."""
    from modelguard.domain.x509_chain import load_roots, verify_chain

    cas = [a for a in anchors if isinstance(a, TrustedCA)]
    if not cas:
        raise VerificationError(Reason.UNKNOWN_SIGNER, "the bundle is signed with a certificate, and no CA is trusted")
    refusal: VerificationError | None = None
    for ca in cas:
        try:
            signer = verify_chain(chain, load_roots(ca.pem))
        except VerificationError as exc:
            refusal = refusal or exc
            continue
        if not check(signer.public_key):
            raise VerificationError(
                Reason.SIGNATURE_INVALID, f"the signature does not verify with {signer.subject}'s key"
            )
        problem = ca.usable_at(now)
        if problem is None:
            return f"{ca.id}:{signer.subject}"
        refusal = problem
    assert refusal is not None
    raise refusal


def authenticate(
    keys: Sequence[TrustedKey], hint: str | None, check: Callable[[ec.EllipticCurvePublicKey], bool], now: datetime
) -> str:
    """The id of the trusted key whose signature checks out, or a VerificationError.

    With a key hint (model_signing >= 1.0 bundles) only the matching key is tried; without one every
    key is tried. A signature by a revoked, expired or not-yet-valid key is refused with that reason.
    Keys that fail to parse are skipped (the TrustPolicy reports them).
    """
    parsed: list[tuple[TrustedKey, ec.EllipticCurvePublicKey]] = []
    for key in keys:
        if isinstance(key, TrustedCA):  # trusts certificates it issued, not bare keys
            continue
        try:
            parsed.append((key, key.public_key()))
        except VerificationError:
            continue
    if hint is not None:
        parsed = [(k, pub) for k, pub in parsed if key_hint(pub) == hint]
        if not parsed:
            raise VerificationError(
                Reason.UNKNOWN_SIGNER, "the signature names a key that is not among the trusted keys"
            )
    refusal: VerificationError | None = None
    for key, pub in parsed:
        if not check(pub):
            continue
        problem = key.usable_at(now)
        if problem is None:
            return key.id
        refusal = refusal or problem
    if refusal is not None:
        raise refusal
    raise VerificationError(Reason.SIGNATURE_INVALID, "the signature does not verify with any trusted key")


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (an empty selector matches everything)."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In" and (not present or labels[req.key] not in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def source_allowed(uri: str, prefixes: Sequence[str]) -> bool:
    """True when uri starts with an allowed prefix that ends at a boundary ('/', ':' or '@').

    `oci://registry.internal` allows `oci://registry.internal/...` and `oci://registry.internal:5000/...`
    but not `oci://registry.internal.evil.example/...`.
    """
    for prefix in prefixes:
        if not prefix or not uri.startswith(prefix):
            continue
        if len(uri) == len(prefix) or prefix[-1] in "/:@" or uri[len(prefix)] in "/:@":
            return True
    return False

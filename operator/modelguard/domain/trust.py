"""Trust decisions: which key signed, may it sign now, does the policy apply (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.api.condition_reasons import Reason
from modelguard.domain.crypto import key_hint, load_public_key
from modelguard.domain.errors import VerificationError

if TYPE_CHECKING:  # the API models (pydantic) are not loaded by `modelguard verify`
    from modelguard.api.base import LabelSelector


@dataclass(frozen=True)
class SignedBy:
    """What vouched for a signature: a key, a CA (with the signing certificate's subject and issuer) or a
    Sigstore identity (with the certificate's identity, the OIDC issuer and the transparency-log index)."""

    method: Literal["key", "certificate", "sigstore"]
    anchor: str  # the id of the key, CA or identity in the TrustPolicy (or on the command line)
    subject: str | None = None
    issuer: str | None = None
    log_index: str | None = None

    @property
    def signer(self) -> str:
        """As recorded and shown: a key's id, or `<CA or identity id>:<subject>`."""
        return self.anchor if self.method == "key" else f"{self.anchor}:{self.subject}"


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
        return _validity(self.what, self.id, self.not_before, self.not_after, self.revoked, now)


@dataclass(frozen=True)
class TrustedCA(TrustedKey):
    """CA certificates (PEM) whose signing certificates are trusted (the certificate method), with the same
    validity window and revocation as a key."""

    what = "CA"

    def validate(self) -> None:
        from modelguard.domain.x509_chain import load_roots

        load_roots(self.pem)


def _validity(
    what: str, id: str, not_before: datetime | None, not_after: datetime | None, revoked: bool, now: datetime
) -> VerificationError | None:
    """Why a trust anchor may not vouch for a signature now (revoked, not yet or no longer valid), or None."""
    if revoked:
        return VerificationError(Reason.KEY_REVOKED, f"{what} {id!r} is revoked by the TrustPolicy")
    if not_before is not None and now < not_before:
        return VerificationError(
            Reason.KEY_NOT_YET_VALID, f"{what} {id!r} is not valid before {not_before.isoformat()}"
        )
    if not_after is not None and now > not_after:
        return VerificationError(Reason.KEY_EXPIRED, f"{what} {id!r} expired at {not_after.isoformat()}")
    return None


@dataclass(frozen=True)
class TrustedIdentity:
    """A Sigstore keyless signer: the identity its certificate must name (exact, or a pattern the whole identity
    matches) and the OIDC issuer, with a key's validity window and revocation."""

    id: str
    issuer: str
    identity: str | None = None
    pattern: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False

    what = "Sigstore identity"

    def validate(self) -> None:
        """Nothing to load: the API admitted the issuer and a compiling pattern."""

    def matches(self, identities: Collection[str], issuer: str | None) -> str | None:
        """The certificate identity (one of its subject alternative names) this trusts, given the certificate's
        OIDC issuer; None when it trusts none of them."""
        if issuer != self.issuer:
            return None
        for name in sorted(identities):
            if name == self.identity or (self.pattern is not None and re.fullmatch(self.pattern, name)):
                return name
        return None

    def names(self, identity: str | None, issuer: str | None) -> bool:
        """Whether this still trusts the certificate identity and OIDC issuer a verification recorded."""
        return identity is not None and self.matches({identity}, issuer) == identity

    def usable_at(self, now: datetime) -> VerificationError | None:
        return _validity(self.what, self.id, self.not_before, self.not_after, self.revoked, now)


Anchor = TrustedKey | TrustedIdentity  # a key or CA (TrustedCA is a TrustedKey), or a Sigstore identity


def anchor_for(
    method: Literal["key", "certificate", "sigstore"], anchor_id: str, anchors: Sequence[Anchor]
) -> Anchor | None:
    """The key, CA or Sigstore identity of the policy that a verification recorded as `method` and `anchor_id`
    (an id names one anchor of one kind: a CA is never taken for a key, nor an identity for a CA)."""
    kind: type[Anchor] = {"key": TrustedKey, "certificate": TrustedCA, "sigstore": TrustedIdentity}[method]
    for anchor in anchors:
        if anchor.id == anchor_id and type(anchor) is kind:
            return anchor
    return None


def keyless_signer(
    identities: Sequence[TrustedIdentity], names: Collection[str], issuer: str | None, now: datetime
) -> tuple[TrustedIdentity, str]:
    """The first usable trusted identity the certificate's names and issuer match, and the name it matched;
    a refusal otherwise: UnknownSigner when none matches, the validity reason when only unusable ones do."""
    refusal: VerificationError | None = None
    for trusted in identities:
        name = trusted.matches(names, issuer)
        if name is None:
            continue
        problem = trusted.usable_at(now)
        if problem is None:
            return trusted, name
        refusal = refusal or problem
    if refusal is not None:
        raise refusal
    shown = ", ".join(sorted(names))[:300] or "no identity"
    raise VerificationError(
        Reason.UNKNOWN_SIGNER,
        f"the certificate names {shown} (issuer {issuer or 'none'}): no trusted Sigstore identity",
    )


def authenticate_chain(
    anchors: Sequence[TrustedKey],
    chain: Sequence[bytes],
    check: Callable[[ec.EllipticCurvePublicKey], bool],
    now: datetime,
) -> SignedBy:
    """The first usable CA the chain leads to and whose signing certificate's key verifies the signature, with
    that certificate's subject and issuer; raises the most telling refusal otherwise."""
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
            return SignedBy("certificate", ca.id, signer.subject, signer.issuer)
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

"""The certificate method of model signing: a signing certificate in the bundle that chains to a trusted CA
(pure; cryptography's X.509 path validation does the work).

As model_signing 1.1.1 does: the chain is checked at the signing certificate's start of validity (a bundle
without a transparency log or timestamp carries no other signing time), intermediates come from the bundle,
and the signing certificate must allow signatures (KeyUsage digitalSignature or ExtendedKeyUsage
codeSigning). CA certificates are held to the Web PKI's CA profile (basic constraints, key usage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import VerificationError


@dataclass(frozen=True)
class Signer:
    public_key: ec.EllipticCurvePublicKey
    subject: str  # RFC 4514 of the signing certificate
    issuer: str


def load_roots(pem: bytes) -> list[x509.Certificate]:
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise VerificationError(Reason.INVALID_KEY, "the CA bundle holds no readable PEM certificate") from None
    return roots


def verify_chain(chain: Sequence[bytes], roots: Sequence[x509.Certificate]) -> Signer:
    """The signing certificate's key and names once its chain leads to one of `roots`; raises otherwise."""
    try:
        leaf, *intermediates = [x509.load_der_x509_certificate(c) for c in chain]
    except ValueError:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "a certificate in the bundle is not valid DER") from None
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(leaf.not_valid_before_utc)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise VerificationError(
            Reason.UNTRUSTED_CERTIFICATE, f"the signing certificate does not chain to a trusted CA: {str(exc)[:200]}"
        ) from None
    if not _may_sign(leaf):
        raise VerificationError(Reason.UNTRUSTED_CERTIFICATE, "the signing certificate is not for signing (key usage)")
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM, "the signing certificate's key is not an ECDSA key")
    return Signer(key, leaf.subject.rfc4514_string(), leaf.issuer.rfc4514_string())


def _may_sign(leaf: x509.Certificate) -> bool:
    try:
        if leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        return ExtendedKeyUsageOID.CODE_SIGNING in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False

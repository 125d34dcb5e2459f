"""Sigstore keyless verification of a model_signing bundle, by sigstore-python, fully offline.

sigstore-python does the cryptography: the bundle's Fulcio certificate must chain to the trust root (with its
embedded SCT), and its transparency-log entry must verify (inclusion proof, checkpoint, signed entry
timestamp), which also gives the verified signing time the certificate is checked at; then the DSSE
signature. Which identity may sign is ModelGuard's decision (domain/trust.keyless_signer): the certificate's
identities (subject alternative names) and OIDC issuer must match a trusted identity, exactly or by its
pattern, and that identity must be valid and not revoked.

The trust root is the Sigstore public-good one shipped inside the pinned sigstore-python release, read from
the package (no TUF refresh, no cache directory: nothing is fetched or written, so it works in a pod with a
read-only root file system), or a client trust configuration the user supplies for a private Sigstore.
sigstore-python is imported only here and only when a keyless signature is verified.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from modelguard.api.condition_reasons import Reason
from modelguard.domain import safe_json
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import PAYLOAD_TYPE
from modelguard.domain.trust import SignedBy, TrustedIdentity, keyless_signer

PUBLIC_GOOD = "https://tuf-repo-cdn.sigstore.dev"  # the TUF repository whose trusted root sigstore-python embeds
OIDC_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"  # raw UTF-8 (Fulcio's oid-info.md)
OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"  # a DER UTF8String
SIGSTORE_OTHERNAME = "1.3.6.1.4.1.57264.1.7"


def is_keyless(raw: bytes) -> bool:
    """A Sigstore bundle: its verification material carries transparency-log entries (model_signing's key and
    certificate methods carry none)."""
    try:
        material = safe_json.loads(raw).get("verificationMaterial") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(material, dict) and bool(material.get("tlogEntries"))


def verify_keyless(
    raw: bytes, identities: Sequence[TrustedIdentity], now: datetime, trust_config: bytes | None = None
) -> tuple[SignedBy, bytes]:
    """(who signed, signed payload) of a bundle whose Sigstore verification passes and whose certificate names
    a trusted identity; raises VerificationError."""
    if not identities:
        raise VerificationError(
            Reason.UNKNOWN_SIGNER, "the model is signed keyless with Sigstore, and no Sigstore identity is trusted"
        )
    logging.getLogger("sigstore").setLevel(logging.ERROR)
    try:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle, InvalidBundle
        from sigstore.verify import Verifier
    except ImportError:
        raise VerificationError(
            Reason.UNSUPPORTED_SOURCE, "Sigstore verification needs sigstore-python: pip install 'modelguard[sigstore]'"
        ) from None
    verifier = Verifier(trusted_root=_trusted_root(trust_config))
    try:
        bundle = Bundle.from_json(raw)
    except (InvalidBundle, ValueError) as exc:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"not a Sigstore bundle: {str(exc)[:200]}") from None
    seen = _Certificate()
    try:
        payload_type, payload = verifier.verify_dsse(bundle, seen)
    except SigstoreError as exc:
        raise VerificationError(Reason.SIGNATURE_INVALID, f"Sigstore verification failed: {str(exc)[:300]}") from None
    if payload_type != PAYLOAD_TYPE:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "the signed payload is not an in-toto statement")
    trusted, name = keyless_signer(identities, seen.names, seen.issuer, now)
    return SignedBy("sigstore", trusted.id, name, seen.issuer, _log_index(raw)), payload


def _log_index(raw: bytes) -> str:
    """The index of the bundle's one transparency-log entry (sigstore-python verified exactly one)."""
    entries = (safe_json.loads(raw).get("verificationMaterial") or {}).get("tlogEntries") or [{}]
    return str(entries[0].get("logIndex", "?"))[:20]


class _Certificate:
    """A sigstore-python verification policy that accepts every certificate and keeps its identities and OIDC
    issuer: sigstore-python has then verified everything but the identity, which keyless_signer decides (an
    exact identity or a pattern, validity and revocation, as for keys)."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.issuer: str | None = None

    def verify(self, cert: Any) -> None:
        from cryptography import x509

        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            sans = x509.SubjectAlternativeName([])
        self.names = set(sans.get_values_for_type(x509.RFC822Name))
        self.names |= set(sans.get_values_for_type(x509.UniformResourceIdentifier))
        self.names |= {
            other.value.decode(errors="replace")
            for other in sans.get_values_for_type(x509.OtherName)
            if other.type_id.dotted_string == SIGSTORE_OTHERNAME
        }
        self.issuer = _issuer(cert)


def _issuer(cert: Any) -> str | None:
    from cryptography import x509

    for oid, der in ((OIDC_ISSUER_V2, True), (OIDC_ISSUER_V1, False)):
        try:
            value: bytes = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value.value
        except x509.ExtensionNotFound:
            continue
        return (_utf8_string(value) if der else value.decode(errors="replace")) or None
    return None


def _utf8_string(der: bytes) -> str:
    """The text of a DER UTF8String (tag 0x0C, definite length); empty when it is not one."""
    if len(der) < 2 or der[0] != 0x0C:
        return ""
    length, start = der[1], 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        width = length & 0x7F
        length, start = int.from_bytes(der[2 : 2 + width], "big"), 2 + width
    body = der[start : start + length]
    return body.decode(errors="replace") if len(body) == length else ""


def check_trust_config(trust_config: bytes) -> None:
    """Raises VerificationError (InvalidKey) unless sigstore-python can use this client trust configuration."""
    try:
        import sigstore  # noqa: F401
    except ImportError:
        raise VerificationError(
            Reason.UNSUPPORTED_SOURCE, "Sigstore verification needs sigstore-python: pip install 'modelguard[sigstore]'"
        ) from None
    _trusted_root(trust_config)


def _trusted_root(trust_config: bytes | None) -> Any:
    from importlib import resources

    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig, TrustedRoot

    try:
        if trust_config is not None:
            return ClientTrustConfig.from_json(trust_config.decode()).trusted_root
        embedded = resources.files("sigstore._store").joinpath(quote(PUBLIC_GOOD, safe=""), "trusted_root.json")
        with resources.as_file(embedded) as path:
            return TrustedRoot.from_file(str(path))
    except (SigstoreError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise VerificationError(
            Reason.INVALID_KEY, f"the Sigstore trust configuration cannot be used: {str(exc)[:200]}"
        ) from None

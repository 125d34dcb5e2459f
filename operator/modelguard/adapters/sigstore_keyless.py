"""Sigstore keyless verification of a model_signing bundle, by sigstore-python, fully offline.

The bundle's Fulcio certificate must chain to the trust root, name the expected identity (the certificate's
subject alternative name) and OIDC issuer, and its transparency-log entry must verify: inclusion proof,
checkpoint and signed entry timestamp, which also give the verified signing time the certificate is checked
at. The trust root is the Sigstore public-good one sigstore-python ships (no TUF refresh: nothing is
fetched), or a client trust configuration the user supplies for a private Sigstore. sigstore-python is
imported only here and only when a keyless signature is verified (`modelguard verify` starts fast).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modelguard.api.condition_reasons import Reason
from modelguard.domain import safe_json
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import PAYLOAD_TYPE


@dataclass(frozen=True)
class KeylessTrust:
    identity: str  # the expected signer identity (e-mail, workload URI)
    issuer: str  # the expected OIDC issuer
    trust_config: bytes | None = None  # a client trust configuration (JSON); None: Sigstore public good


def verify_keyless(raw: bytes, trust: KeylessTrust) -> tuple[str, bytes]:
    """(signer, signed payload) of a bundle whose Sigstore verification passes; raises VerificationError."""
    logging.getLogger("sigstore").setLevel(logging.ERROR)  # "offline mode" notices are not findings
    try:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle, ClientTrustConfig, InvalidBundle
        from sigstore.verify import Verifier, policy
    except ImportError:
        raise VerificationError(
            Reason.UNSUPPORTED_SOURCE, "Sigstore verification needs sigstore-python: pip install 'modelguard[sigstore]'"
        ) from None

    try:
        config = (
            ClientTrustConfig.from_json(trust.trust_config.decode())
            if trust.trust_config is not None
            else ClientTrustConfig.production(offline=True)
        )
    except (SigstoreError, ValueError) as exc:
        raise VerificationError(Reason.INVALID_KEY, f"the Sigstore trust configuration cannot be used: {exc}") from None
    try:
        bundle = Bundle.from_json(raw)
    except (InvalidBundle, ValueError) as exc:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"not a Sigstore bundle: {str(exc)[:200]}") from None
    verifier = Verifier(trusted_root=config.trusted_root)
    try:
        payload_type, payload = verifier.verify_dsse(
            bundle, policy.Identity(identity=trust.identity, issuer=trust.issuer)
        )
    except SigstoreError as exc:
        raise VerificationError(Reason.SIGNATURE_INVALID, f"Sigstore verification failed: {str(exc)[:300]}") from None
    if payload_type != PAYLOAD_TYPE:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "the signed payload is not an in-toto statement")
    return f"sigstore:{trust.identity};issuer={trust.issuer};logIndex={_log_index(raw)}", payload


def _log_index(raw: bytes) -> str:
    """The verified entry's index in the transparency log, for the record (read from the bundle)."""
    entries = (safe_json.loads(raw).get("verificationMaterial") or {}).get("tlogEntries") or [{}]
    return str(entries[0].get("logIndex", "?"))[:20]

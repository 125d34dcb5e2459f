"""ECDSA keys and signatures for model signing (pure computation, no I/O)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import PAYLOAD_TYPE, pae

Curve = Literal["p256", "p384", "p521"]
_CURVES: dict[str, ec.EllipticCurve] = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}
_SUPPORTED = {"secp256r1", "secp384r1", "secp521r1"}


def _hash_for(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    size = key.curve.key_size
    return hashes.SHA256() if size == 256 else hashes.SHA384() if size == 384 else hashes.SHA512()


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise VerificationError(Reason.INVALID_KEY, "public key is not a valid PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _SUPPORTED:
        raise VerificationError(Reason.INVALID_KEY, "public key is not an ECDSA P-256, P-384 or P-521 key")
    return key


def load_private_key(pem: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise VerificationError(Reason.INVALID_KEY, "private key is not a valid (or is an encrypted) PEM key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in _SUPPORTED:
        raise VerificationError(Reason.INVALID_KEY, "private key is not an ECDSA P-256, P-384 or P-521 key")
    return key


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """The key identifier model_signing records in bundles: SHA-256 of the PEM public key."""
    return hashlib.sha256(public_pem(key)).hexdigest()


def generate(curve: Curve = "p256") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVES[curve])


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def sign_dsse(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    return key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(_hash_for(key.public_key())))


def pae_v02(payload: bytes) -> bytes:
    """The pre-authentication encoding model_signing 0.2 signed (a bug: the payload's Python repr, "DSSEV1"),
    which model_signing 1.1.1 still verifies. It is still injective in the payload: nothing else verifies."""
    return f"DSSEV1 {len(PAYLOAD_TYPE)} {PAYLOAD_TYPE} {len(payload)} {payload!r}".encode()


def verify_dsse(key: ec.EllipticCurvePublicKey, payload: bytes, signature: bytes) -> bool:
    """DSSE v1 over the payload; failing that, model_signing 0.2's encoding with SHA-256 (its bundles said
    nothing else about their version, and model_signing 1.1.1 verifies them the same way)."""
    for encoded, digest in ((pae(PAYLOAD_TYPE, payload), _hash_for(key)), (pae_v02(payload), hashes.SHA256())):
        try:
            key.verify(signature, encoded, ec.ECDSA(digest))
        except InvalidSignature:
            continue
        return True
    return False


def _der_length(data: bytes) -> int | None:
    """The length, header included, of the DER SEQUENCE `data` starts with (as its header says), or None."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    if data[1] < 0x80:  # short form
        return 2 + data[1]
    size = data[1] & 0x7F  # long form: that many length bytes follow (an ECDSA signature needs at most one)
    if size == 0 or size > 2 or len(data) < 2 + size:
        return None
    return 2 + size + int.from_bytes(data[2 : 2 + size], "big")


def decode_detached(raw: bytes) -> bytes:
    """A detached signature file, decoded by this one rule wherever it is read (the operator, the pods): DER as
    `openssl dgst -sign` writes it, every byte of the value kept (its last byte may be 0x20 or 0x0a: about 2 %
    of valid signatures end in a whitespace byte), or base64 of DER as `cosign sign-blob` writes it. Whitespace
    around either is not part of the signature; the DER value ends where its header says."""
    body = raw.lstrip()
    if body[:1] == b"\x30":  # a DER SEQUENCE; never base64, whose encoding of DER starts with "M"
        length = _der_length(body)
        if length is None or length > len(body) or body[length:].strip():
            raise VerificationError(
                Reason.MALFORMED_SIGNATURE, "detached DER signature is cut short, or followed by other bytes"
            )
        return bytes(body[:length])
    try:
        return base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "detached signature is neither DER nor base64") from None


def verify_detached(key: ec.EllipticCurvePublicKey, sha256_digest: bytes, signature: bytes) -> bool:
    """ECDSA over the artifact's SHA-256 (`openssl dgst -sha256 -sign`, `cosign sign-blob`)."""
    try:
        key.verify(signature, sha256_digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def sign_detached(key: ec.EllipticCurvePrivateKey, sha256_digest: bytes) -> bytes:
    return key.sign(sha256_digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

"""Verification of a model on local disk against a signature: authenticate, then hash and compare.

Order matters for cost and safety: the bundle is parsed and its signature checked against trusted
keys first (cheap); only an authentic statement is trusted to say which files to hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from modelguard.adapters.hashing import Progress, hash_model, hash_range
from modelguard.adapters.sigstore_keyless import is_keyless, verify_keyless
from modelguard.api.condition_reasons import Reason
from modelguard.domain.crypto import decode_detached, verify_detached, verify_dsse
from modelguard.domain.errors import VerificationError
from modelguard.domain.inspection import FileReport
from modelguard.domain.manifest_check import compare
from modelguard.domain.statement import SignedManifest, parse_bundle, parse_statement
from modelguard.domain.trust import Anchor, SignedBy, TrustedIdentity, TrustedKey, authenticate, authenticate_chain


@dataclass(frozen=True)
class Verified:
    digest: str
    signer: str
    files: int
    bytes: int
    seconds: float
    signed_by: SignedBy  # the method and what vouched for the signature
    paths: tuple[str, ...] = ()  # the signed files, relative to the model (what a loader may read)
    inspection: tuple[FileReport, ...] | None = None  # when the request asked for inspection


def authenticate_bundle(
    raw: bytes, anchors: Sequence[Anchor], now: datetime, trust_config: bytes | None = None
) -> tuple[SignedBy, SignedManifest]:
    """(who signed, signed manifest) of an authentic model_signing bundle: signed with a trusted key, with a
    certificate chaining to a trusted CA, or keyless with Sigstore by a trusted identity (`trust_config`: a
    private Sigstore's client trust configuration)."""
    if is_keyless(raw):  # Sigstore: the signer is an identity, not a key or CA we hold
        identities = [a for a in anchors if isinstance(a, TrustedIdentity)]
        signed_by, payload = verify_keyless(raw, identities, now, trust_config)
        return signed_by, parse_statement(payload)
    bundle = parse_bundle(raw)

    def check(pub: ec.EllipticCurvePublicKey) -> bool:
        return verify_dsse(pub, bundle.payload, bundle.signature)

    keys = [a for a in anchors if isinstance(a, TrustedKey)]
    if bundle.chain:
        signed_by = authenticate_chain(keys, bundle.chain, check, now)
    else:
        signed_by = SignedBy("key", authenticate(keys, bundle.key_hint, check, now))
    return signed_by, parse_statement(bundle.payload)


def check_expected(manifest: SignedManifest, expect_digest: str | None) -> None:
    if expect_digest is not None and manifest.digest != expect_digest:
        raise VerificationError(
            Reason.UNEXPECTED_DIGEST, f"signed model digest {manifest.digest} is not the pinned {expect_digest}"
        )


def verify_local(
    model: Path,
    signature: bytes,
    anchors: Sequence[Anchor],
    now: datetime,
    *,
    format: Literal["model-signing", "detached"] = "model-signing",
    expect_digest: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    use_mmap: bool = False,
    ignore: Sequence[str] = (),
    trust_config: bytes | None = None,
) -> Verified:
    """`ignore`: paths (relative to the model) left out besides those the signature records, as
    model_signing's --ignore-paths at verification."""
    if format == "detached":
        keys = [a for a in anchors if isinstance(a, TrustedKey)]
        return _verify_detached(model, signature, keys, now, expect_digest, progress)
    signed_by, manifest = authenticate_bundle(signature, anchors, now, trust_config)
    check_expected(manifest, expect_digest)
    serialization = manifest.serialization
    if ignore:
        serialization = replace(serialization, ignore_paths=(*serialization.ignore_paths, *ignore))
    result = hash_model(model, serialization, workers=workers, progress=progress, use_mmap=use_mmap)
    compare(manifest, result.resources)
    return Verified(
        manifest.digest, signed_by.signer, result.files, result.bytes, result.seconds, signed_by, manifest.files
    )


def _verify_detached(
    model: Path,
    signature: bytes,
    keys: list[TrustedKey],
    now: datetime,
    expect_digest: str | None,
    progress: Progress | None,
) -> Verified:
    if not model.is_file():
        raise VerificationError(Reason.UNSUPPORTED_SOURCE, "a detached signature covers exactly one file")
    with model.open("rb") as f:
        if f.read(len(DSSE_PREFIX)) == DSSE_PREFIX:
            # a DSSE signature is ECDSA over SHA-256 of these very bytes: taken for a detached signature over
            # such a "file", every signed bundle would verify as a model (signature format confusion)
            raise VerificationError(
                Reason.SIGNATURE_FORMAT_CONFUSION, "the file is a DSSE pre-authentication encoding, not a model"
            )
    sig = decode_detached(signature)
    hex_digest, size = hash_range(model, progress=progress)
    digest = f"sha256:{hex_digest}"
    if expect_digest is not None and digest != expect_digest:
        raise VerificationError(Reason.UNEXPECTED_DIGEST, f"file digest {digest} is not the pinned {expect_digest}")
    raw = bytes.fromhex(hex_digest)
    signer = authenticate(keys, None, lambda pub: verify_detached(pub, raw, sig), now)
    return Verified(digest, signer, 1, size, 0.0, SignedBy("key", signer), (model.name,))


DSSE_PREFIX = b"DSSEv1 "


def file_digest(path: Path) -> str:
    """sha256:<hex> of a whole file (small files: bundles, SBOMs)."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()

"""Where model bytes and signatures come from: file://, https:// and oci:// (worker threads).

Every source is verified the same way: authenticate the signature first, then establish the digest
of every signed resource and compare. For OCI the registry is content-addressed: the pinned manifest
digest covers every layer digest, so the signed file digests are compared with layer digests without
downloading (cost independent of model size); `deep=True` streams and re-hashes the blobs.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from modelguard.adapters.hashing import CHUNK, Progress
from modelguard.adapters.http import HttpClient, read_limited
from modelguard.adapters.oci import Layer, Reference, Registry
from modelguard.adapters.verifier import Verified, authenticate_bundle, check_expected, verify_local
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials
from modelguard.domain.crypto import decode_detached, verify_detached
from modelguard.domain.errors import VerificationError
from modelguard.domain.inspection import Rules
from modelguard.domain.manifest_check import compare
from modelguard.domain.statement import Resource, Serialization, SignedManifest
from modelguard.domain.trust import Anchor, SignedBy, TrustedKey, authenticate

MAX_SIGNATURE = 16 * 1024 * 1024
BUNDLE_MEDIA_HINTS = ("sigstore.bundle", "model-signing", "modelguard.signature")


@dataclass(frozen=True)
class SourceSettings:
    http: HttpClient
    file_roots: tuple[Path, ...] = ()
    plain_http_registries: tuple[str, ...] = ()
    workers: int | None = None


@dataclass(frozen=True)
class Fetch:
    """One verification request."""

    source: str
    signature_format: Literal["model-signing", "detached"]
    keys: Sequence[Anchor]  # keys, CAs and Sigstore identities
    now: datetime
    credentials: Credentials | None = None
    expect_digest: str | None = None
    deep: bool = False
    progress: Progress | None = field(default=None, compare=False)
    trust_config: bytes | None = None  # a private Sigstore's client trust configuration
    inspect: Rules | None = None  # inspect the signed files after verification (the TrustPolicy asks for it)


def local_path(uri: str, roots: tuple[Path, ...]) -> Path:
    """The local path of a file:// URI, which must resolve inside one of the allowed roots."""
    if not roots:
        raise VerificationError(
            Reason.SOURCE_NOT_ALLOWED, "file:// sources are disabled on this operator (no --file-root)"
        )
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise VerificationError(Reason.INVALID_SOURCE, "file:// URIs must not name a host")
    path = Path(urllib.parse.unquote(parts.path))
    real = Path(os.path.realpath(path))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            return path
    raise VerificationError(Reason.SOURCE_NOT_ALLOWED, f"{path} is outside the operator's allowed file roots")


def _registry(ref: Reference, settings: SourceSettings, credentials: Credentials | None) -> Registry:
    return Registry(settings.http, ref.host, credentials, plain_http=ref.host in settings.plain_http_registries)


def fetch_document(
    uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int = MAX_SIGNATURE
) -> bytes:
    """A small document (signature, SBOM) from file:// (below the file roots) or https:// (the credentials go
    along only if it is on their origin)."""
    scheme = uri.split("://", 1)[0]
    if scheme == "file":
        path = local_path(uri, settings.file_roots)
        try:
            with path.open("rb") as f:
                data = f.read(limit + 1)
        except OSError:
            raise VerificationError(f"{what.capitalize()}NotFound", f"{what} {path.name!r} cannot be read") from None
        if len(data) > limit:
            raise VerificationError(Reason.TOO_LARGE, f"{what} is larger than {limit} bytes")
        return data
    if scheme == "https":
        with settings.http.open(uri, credentials=credentials) as response:
            return read_limited(response, limit, what)
    raise VerificationError(Reason.INVALID_SOURCE, f"unsupported {what} scheme {scheme!r}")


def fetch_signature(uri: str, settings: SourceSettings, credentials: Credentials | None) -> bytes:
    scheme = uri.split("://", 1)[0]
    if scheme in ("file", "https"):
        return fetch_document(uri, settings, credentials, "signature")
    if scheme == "oci":
        ref = Reference.parse(uri)
        registry = _registry(ref, settings, credentials)
        layers = registry.layers(ref)
        chosen = [
            layer
            for layer in layers
            if any(h in layer.media_type for h in BUNDLE_MEDIA_HINTS)
            or (layer.path or "").endswith((".sig", ".sigstore.json"))
        ]
        if len(chosen) != 1:
            raise VerificationError(
                Reason.SIGNATURE_NOT_FOUND, "OCI signature artifact must have exactly one bundle layer"
            )
        with registry.blob(ref.repository, chosen[0].digest) as response:
            data = read_limited(response, MAX_SIGNATURE, "signature")
        if "sha256:" + hashlib.sha256(data).hexdigest() != chosen[0].digest:
            raise VerificationError(Reason.DIGEST_MISMATCH, "signature blob does not match its digest")
        return data
    raise VerificationError(Reason.INVALID_SOURCE, f"unsupported signature scheme {scheme!r}")


def hash_stream(
    response: http.client.HTTPResponse, path: str, serialization: Serialization, progress: Progress | None = None
) -> tuple[list[Resource], int]:
    """Hash a byte stream into the resources of one file (whole file, or shards)."""
    shard = serialization.shard_size if serialization.method == "shards" else None
    out: list[Resource] = []
    hasher = hashlib.sha256()
    offset = start = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = response.readinto(view)
        if not n:
            break
        pos = 0
        while pos < n:
            take = n - pos if shard is None else min(n - pos, start + shard - offset)
            hasher.update(view[pos : pos + take])
            pos += take
            offset += take
            if shard is not None and offset - start == shard:
                out.append(Resource(path, hasher.hexdigest(), start, offset))
                hasher, start = hashlib.sha256(), offset
        if progress is not None:
            progress(n)
    if shard is None:
        out.append(Resource(path, hasher.hexdigest()))
    elif offset > start:
        out.append(Resource(path, hasher.hexdigest(), start, offset))
    return out, offset


def verify_source(request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
    """Verify, then (when asked) inspect exactly the files that verified, where they are."""
    verified = _verify_source(request, signature, settings)
    if request.inspect is None:
        return verified
    from modelguard.adapters.source_inspection import inspect_source

    reports = inspect_source(request, verified.paths, settings)
    return replace(verified, inspection=tuple(reports))


def _verify_source(request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
    scheme = request.source.split("://", 1)[0]
    if scheme == "file":
        path = local_path(request.source, settings.file_roots)
        return verify_local(
            path,
            signature,
            request.keys,
            request.now,
            format=request.signature_format,
            expect_digest=request.expect_digest,
            workers=settings.workers,
            progress=request.progress,
            trust_config=request.trust_config,
        )
    if request.signature_format == "detached":
        return _verify_detached_remote(request, signature, settings)
    started = time.monotonic()
    signed_by, manifest = authenticate_bundle(signature, request.keys, request.now, request.trust_config)
    check_expected(manifest, request.expect_digest)
    if scheme == "https":
        found, total = _hash_https(request, manifest, settings)
    elif scheme == "oci":
        found, total = _oci_resources(request, manifest, settings)
    else:
        raise VerificationError(Reason.INVALID_SOURCE, f"unsupported source scheme {scheme!r}")
    compare(manifest, found)
    seconds = time.monotonic() - started
    return Verified(manifest.digest, signed_by.signer, len(manifest.files), total, seconds, signed_by, manifest.files)


def file_url(source: str, rel: str, files: Sequence[str]) -> str:
    """Where a signed file of an https (or model cache) source is: `source/rel`, or the source itself when the
    model is that one file (`https://host/m.bin` signed as `m.bin`). Verification, inspection and the pods'
    fetch all read this URL, so they read the same bytes."""
    base = source.rstrip("/")
    if len(files) == 1 and not source.endswith("/") and base.rsplit("/", 1)[-1] == rel:
        return base
    return f"{base}/{urllib.parse.quote(rel)}"


def _hash_https(request: Fetch, manifest: SignedManifest, settings: SourceSettings) -> tuple[dict[str, Resource], int]:
    found: dict[str, Resource] = {}
    total = 0
    for path in manifest.files:
        url = file_url(request.source, path, manifest.files)
        with settings.http.open(url, credentials=request.credentials) as response:
            resources, size = hash_stream(response, path, manifest.serialization, request.progress)
        total += size
        found.update({r.name: r for r in resources})
    return found, total


def _oci_resources(
    request: Fetch, manifest: SignedManifest, settings: SourceSettings
) -> tuple[dict[str, Resource], int]:
    ref = Reference.parse(request.source)
    registry = _registry(ref, settings, request.credentials)
    layers = [layer for layer in registry.layers(ref) if layer.path]
    by_path: dict[str, Layer] = {}
    for layer in layers:
        assert layer.path is not None
        if layer.path in by_path:
            raise VerificationError(Reason.MALFORMED_MANIFEST, f"two layers claim the file {layer.path!r}")
        by_path[layer.path] = layer
    total = sum(layer.size for layer in by_path.values())
    if manifest.serialization.method == "files" and not request.deep:
        return {
            path: Resource(path, layer.digest.removeprefix("sha256:"))
            for path, layer in by_path.items()
            if layer.digest.startswith("sha256:")
        }, total
    found: dict[str, Resource] = {}
    for path, layer in by_path.items():
        with registry.blob(ref.repository, layer.digest) as response:
            resources, _ = hash_stream(response, path, manifest.serialization, request.progress)
        found.update({r.name: r for r in resources})
    return found, total


def _verify_detached_remote(request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
    started = time.monotonic()
    sig = decode_detached(signature)
    if request.source.startswith("oci://"):
        ref = Reference.parse(request.source)
        layers = _registry(ref, settings, request.credentials).layers(ref)
        if len(layers) != 1:
            raise VerificationError(Reason.UNSUPPORTED_SOURCE, "a detached signature covers an artifact with one layer")
        digest_hex, size = layers[0].digest.removeprefix("sha256:"), layers[0].size
    else:
        with settings.http.open(request.source, credentials=request.credentials) as response:
            resources, size = hash_stream(response, "artifact", Serialization(), request.progress)
        digest_hex = resources[0].digest
    digest = f"sha256:{digest_hex}"
    if request.expect_digest is not None and digest != request.expect_digest:
        raise VerificationError(
            Reason.UNEXPECTED_DIGEST, f"artifact digest {digest} is not the pinned {request.expect_digest}"
        )
    keys = [a for a in request.keys if isinstance(a, TrustedKey)]
    signer = authenticate(keys, None, lambda pub: verify_detached(pub, bytes.fromhex(digest_hex), sig), request.now)
    name = request.source.rstrip("/").rsplit("/", 1)[-1].split("@")[0] or "artifact"
    return Verified(digest, signer, 1, size, time.monotonic() - started, SignedBy("key", signer), (name,))

"""What every source provider does, and the steps providers share (ADR 0021).

A provider reads one kind of source (one URI scheme) for every caller: the operator's verification,
inspection, signature and SBOM fetches, the credentials' origin, a decommission's artifact deletion, and the
pods' fetch (`modelguard verify --source`). Every source is verified the same way: authenticate the signature
first, then establish the digest of every signed resource and compare; only the way to the bytes differs.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar, Literal

from modelguard.adapters.hashing import CHUNK, Progress
from modelguard.adapters.http import HttpClient
from modelguard.adapters.verifier import Verified, authenticate_bundle, check_expected
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, Origin
from modelguard.domain.crypto import decode_detached, verify_detached
from modelguard.domain.errors import VerificationError
from modelguard.domain.inspection import FileReport, Rules
from modelguard.domain.manifest_check import compare
from modelguard.domain.statement import Resource, Serialization, SignedManifest, safe_relative_path
from modelguard.domain.trust import Anchor, SignedBy, TrustedKey, authenticate

if TYPE_CHECKING:
    from modelguard.adapters.ranged_file import RangedFile

MAX_SIGNATURE = 16 * 1024 * 1024


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


@dataclass(frozen=True)
class Deletable:
    """What a decommission deletes at a source of this kind, as its certificate records it."""

    kind: str  # the certificate's action kind ("OCIManifest")
    method: str  # how it is deleted ("RegistryDelete")
    confirmed: str  # how a later request shows it is gone ("HEAD answered 404")


class SourceProvider(ABC):
    """One kind of source. Providers hold no state: every call gets the URI, the settings and the credentials
    (bound to the source's origin; they go nowhere else)."""

    schemes: ClassVar[tuple[str, ...]]  # the URI schemes it reads (adapters/sources/__init__.py chooses by them)
    deletable: ClassVar[Deletable | None] = None  # None: a decommission leaves such artifacts at their origin

    @abstractmethod
    def origin(self, uri: str, settings: SourceSettings) -> Origin | None:
        """The origin the source's credentials belong to (None: a source without one; they go nowhere)."""

    @abstractmethod
    def document(
        self, uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int
    ) -> bytes:
        """A small document (a signature, an SBOM), at most `limit` bytes."""

    def signature(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bytes:
        return self.document(uri, settings, credentials, "signature", MAX_SIGNATURE)

    @abstractmethod
    def verify(self, request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
        """Authenticate the signature, then establish the digests of the signed files where they are."""

    @abstractmethod
    def inspect(self, request: Fetch, paths: Sequence[str], settings: SourceSettings) -> list[FileReport]:
        """Inspect the signed files `paths` where they are (adapters/inspector.py; domain/inspection decides)."""

    @abstractmethod
    def fetch(
        self,
        source: str,
        manifest: SignedManifest,
        into: Path,
        settings: SourceSettings,
        credentials: Credentials | None,
    ) -> int:
        """Copy the files `manifest` lists into `into` (the pods' init containers); returns bytes written.
        Nothing is trusted because it was fetched: verification of the directory follows."""

    def delete(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bool:
        """Delete the artifact (see `deletable`); False when it was already gone."""
        raise VerificationError(Reason.UNSUPPORTED_SOURCE, f"{uri.partition('://')[0]}:// artifacts are not deleted")

    def exists(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bool:
        """Whether the artifact is still there (a decommission confirms its deletions)."""
        raise VerificationError(Reason.UNSUPPORTED_SOURCE, f"{uri.partition('://')[0]}:// artifacts are not deleted")


# --- steps the providers share ------------------------------------------------------------------------------------


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


Resources = Callable[[SignedManifest], tuple[dict[str, Resource], int]]


def verify_remote(request: Fetch, signature: bytes, resources: Resources) -> Verified:
    """A signature bundle over files that are not on this machine: authenticate it, then compare what
    `resources` finds for the authenticated manifest (name -> resource, and the bytes they cover)."""
    started = time.monotonic()
    signed_by, manifest = authenticate_bundle(signature, request.keys, request.now, request.trust_config)
    check_expected(manifest, request.expect_digest)
    found, total = resources(manifest)
    compare(manifest, found)
    seconds = time.monotonic() - started
    return Verified(manifest.digest, signed_by.signer, len(manifest.files), total, seconds, signed_by, manifest.files)


def verify_detached_remote(request: Fetch, signature: bytes, artifact: Callable[[], tuple[str, int]]) -> Verified:
    """A detached signature over one remote file, whose (SHA-256 hex, size) `artifact` establishes."""
    started = time.monotonic()
    sig = decode_detached(signature)
    digest_hex, size = artifact()
    digest = f"sha256:{digest_hex}"
    if request.expect_digest is not None and digest != request.expect_digest:
        raise VerificationError(
            Reason.UNEXPECTED_DIGEST, f"artifact digest {digest} is not the pinned {request.expect_digest}"
        )
    keys = [a for a in request.keys if isinstance(a, TrustedKey)]
    signer = authenticate(keys, None, lambda pub: verify_detached(pub, bytes.fromhex(digest_hex), sig), request.now)
    name = request.source.rstrip("/").rsplit("/", 1)[-1].split("@")[0] or "artifact"
    return Verified(digest, signer, 1, size, time.monotonic() - started, SignedBy("key", signer), (name,))


def write_file(source: IO[bytes], into: Path, rel: str) -> int:
    """Copy a stream to `into/rel` (a path checked to stay inside `into`; no link followed); returns its size."""
    target = into / safe_relative_path(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o444)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                return total
            out.write(chunk)
            total += len(chunk)


def inspect_ranged(ranged: RangedFile, name: str) -> FileReport:
    """Inspect a remote file through ranged reads (the inspector is loaded only when a policy asks for it)."""
    import io

    from modelguard.adapters.inspector import inspect_stream
    from modelguard.adapters.ranged_file import BLOCK

    report = inspect_stream(io.BufferedReader(ranged, BLOCK), ranged.size, name)
    report.bytes_read = ranged.fetched  # what crossed the network, blocks included
    return report

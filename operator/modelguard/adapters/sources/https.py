"""https:// sources: one file, or a directory whose files the signed manifest lists, each read at `file_url`.

Also http://, where the HTTP client allows it (adapters/http.scheme_allowed): to loopback (tests), and the
in-cluster model cache the pods fetch from (`--via`), whose bytes are verified after fetching. Redirects are
followed by hand; credentials go only to their own origin (domain/credentials.may_carry)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from modelguard.adapters.http import read_limited
from modelguard.adapters.sources.base import (
    Fetch,
    SourceProvider,
    SourceSettings,
    hash_stream,
    inspect_ranged,
    verify_detached_remote,
    verify_remote,
    write_file,
)
from modelguard.adapters.verifier import Verified
from modelguard.domain.credentials import Credentials, Origin, origin_of
from modelguard.domain.inspection import FileReport
from modelguard.domain.statement import Resource, Serialization, SignedManifest


def file_url(source: str, rel: str, files: Sequence[str]) -> str:
    """Where a signed file of an https (or model cache) source is: `source/rel`, or the source itself when the
    model is that one file (`https://host/m.bin` signed as `m.bin`). Verification, inspection and the pods'
    fetch all read this URL, so they read the same bytes."""
    base = source.rstrip("/")
    if len(files) == 1 and not source.endswith("/") and base.rsplit("/", 1)[-1] == rel:
        return base
    return f"{base}/{urllib.parse.quote(rel)}"


class HttpsProvider(SourceProvider):
    schemes = ("https", "http")

    def origin(self, uri: str, settings: SourceSettings) -> Origin | None:
        return origin_of(uri)

    def document(
        self, uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int
    ) -> bytes:
        with settings.http.open(uri, credentials=credentials) as response:
            return read_limited(response, limit, what)

    def verify(self, request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
        if request.signature_format == "detached":
            return verify_detached_remote(request, signature, lambda: self._hash_artifact(request, settings))
        return verify_remote(request, signature, lambda manifest: self._hash_files(request, manifest, settings))

    def _hash_artifact(self, request: Fetch, settings: SourceSettings) -> tuple[str, int]:
        with settings.http.open(request.source, credentials=request.credentials) as response:
            resources, size = hash_stream(response, "artifact", Serialization(), request.progress)
        return resources[0].digest, size

    def _hash_files(
        self, request: Fetch, manifest: SignedManifest, settings: SourceSettings
    ) -> tuple[dict[str, Resource], int]:
        found: dict[str, Resource] = {}
        total = 0
        for path in manifest.files:
            url = file_url(request.source, path, manifest.files)
            with settings.http.open(url, credentials=request.credentials) as response:
                resources, size = hash_stream(response, path, manifest.serialization, request.progress)
            total += size
            found.update({r.name: r for r in resources})
        return found, total

    def inspect(self, request: Fetch, paths: Sequence[str], settings: SourceSettings) -> list[FileReport]:
        """Through ranged reads: a safetensors file costs its header, a zip its central directory and pickles."""
        from modelguard.adapters.ranged_file import http_ranged

        reports = []
        for rel in sorted(set(paths)):
            detached = request.signature_format == "detached"  # the source is the one signed file
            url = request.source if detached else file_url(request.source, rel, paths)
            reports.append(inspect_ranged(http_ranged(settings.http, url, request.credentials), rel))
        return reports

    def fetch(
        self,
        source: str,
        manifest: SignedManifest,
        into: Path,
        settings: SourceSettings,
        credentials: Credentials | None,
    ) -> int:
        total = 0
        for rel in manifest.files:
            with settings.http.open(file_url(source, rel, manifest.files), credentials=credentials) as response:
                total += write_file(response, into, rel)
        return total

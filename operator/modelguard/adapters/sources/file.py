"""file:// sources: a model on a local path, only below the roots the operator (or the pod) is started with
(`--file-root`; none by default: otherwise any namespace could make the operator read its own filesystem)."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from modelguard.adapters.hashing import scan_model
from modelguard.adapters.sources.base import Fetch, SourceProvider, SourceSettings, write_file
from modelguard.adapters.verifier import Verified, verify_local
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, Origin
from modelguard.domain.errors import VerificationError
from modelguard.domain.inspection import FileReport
from modelguard.domain.statement import SignedManifest


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


class FileProvider(SourceProvider):
    schemes = ("file",)

    def origin(self, uri: str, settings: SourceSettings) -> Origin | None:
        return None  # credentials for a local file go nowhere

    def document(
        self, uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int
    ) -> bytes:
        path = local_path(uri, settings.file_roots)
        try:
            with path.open("rb") as f:
                data = f.read(limit + 1)
        except OSError:
            raise VerificationError(f"{what.capitalize()}NotFound", f"{what} {path.name!r} cannot be read") from None
        if len(data) > limit:
            raise VerificationError(Reason.TOO_LARGE, f"{what} is larger than {limit} bytes")
        return data

    def verify(self, request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
        return verify_local(
            local_path(request.source, settings.file_roots),
            signature,
            request.keys,
            request.now,
            format=request.signature_format,
            expect_digest=request.expect_digest,
            workers=settings.workers,
            progress=request.progress,
            trust_config=request.trust_config,
        )

    def inspect(self, request: Fetch, paths: Sequence[str], settings: SourceSettings) -> list[FileReport]:
        from modelguard.adapters.inspector import inspect_model

        root = local_path(request.source, settings.file_roots)
        return inspect_model(root, only=None if root.is_file() else set(paths))

    def fetch(
        self,
        source: str,
        manifest: SignedManifest,
        into: Path,
        settings: SourceSettings,
        credentials: Credentials | None,
    ) -> int:
        root = local_path(source, settings.file_roots)
        if root.is_file():
            with root.open("rb") as f:
                return write_file(f, into, root.name)
        wanted = set(manifest.files)
        total = 0
        for entry in scan_model(root, allow_symlinks=False, ignore=manifest.serialization.ignore_paths):
            if entry.rel in wanted:
                with (root / entry.rel).open("rb") as f:
                    total += write_file(f, into, entry.rel)
        return total

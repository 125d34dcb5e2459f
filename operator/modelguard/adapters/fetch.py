"""Download a model into a local directory (the init container's job before it verifies the bytes).

Only files the authenticated manifest names are fetched, each to a path checked to stay inside the
target directory; nothing is trusted because it was fetched: verification of the directory follows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from modelguard.adapters.hashing import CHUNK, scan_model
from modelguard.adapters.model_sources import SourceSettings, file_url, local_path
from modelguard.adapters.oci import Reference, Registry
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, Origin, Refusal, read_secret
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import SignedManifest, safe_relative_path


def _target(into: Path, rel: str) -> Path:
    path = into / safe_relative_path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _copy_stream(source: object, target: Path) -> int:
    total = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o444)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = source.read(CHUNK)  # type: ignore[attr-defined]
            if not chunk:
                return total
            out.write(chunk)
            total += len(chunk)


def fetch_model(
    source: str, manifest: SignedManifest, into: Path, settings: SourceSettings, credentials: Credentials | None = None
) -> int:
    """Fetch the files `manifest` lists from `source` into `into`; returns bytes written. The credentials go
    only to their own origin (the source's; never the model cache's, fetched `--via`)."""
    into.mkdir(parents=True, exist_ok=True)
    scheme = source.split("://", 1)[0]
    total = 0
    if scheme == "file":
        root = local_path(source, settings.file_roots)
        if root.is_file():
            with root.open("rb") as f:
                return _copy_stream(f, _target(into, root.name))
        wanted = set(manifest.files)
        for entry in scan_model(root, allow_symlinks=False, ignore=manifest.serialization.ignore_paths):
            if entry.rel in wanted:
                with (root / entry.rel).open("rb") as f:
                    total += _copy_stream(f, _target(into, entry.rel))
        return total
    if scheme in ("https", "http"):  # http: the model cache, where the HttpClient allows it
        for rel in manifest.files:
            with settings.http.open(file_url(source, rel, manifest.files), credentials=credentials) as response:
                total += _copy_stream(response, _target(into, rel))
        return total
    if scheme == "oci":
        ref = Reference.parse(source)
        registry = Registry(settings.http, ref.host, credentials, plain_http=ref.host in settings.plain_http_registries)
        wanted = set(manifest.files)
        for layer in registry.layers(ref):
            if layer.path and layer.path in wanted:
                with registry.blob(ref.repository, layer.digest) as response:
                    total += _copy_stream(response, _target(into, layer.path))
        return total
    raise VerificationError(Reason.INVALID_SOURCE, f"unsupported source scheme {scheme!r}")


def mounted_credentials(directory: Path, secret_type: str, origin: Origin | None) -> Credentials:
    """The credentials in a Secret volume, read by the operator's rule (adapters/secrets.source_credentials) from
    the same bytes: each file holds one key's decoded value, used exactly (Kubernetes' `..data` entries are not
    keys). `secret_type` is the Secret's type as the operator saw it (a volume does not show it)."""
    data = {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if not path.name.startswith("..") and path.is_file()
    }
    read = read_secret(str(directory), secret_type, data, origin)
    if isinstance(read, Refusal):
        raise VerificationError(read.reason, read.message)
    return read


def clear(directory: Path) -> None:
    """Empty a directory (a previous, possibly tampered, download) without following links."""
    if not directory.exists():
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()

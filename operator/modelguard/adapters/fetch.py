"""The pods' side of a fetch (the init container's job before it verifies the bytes): the credentials of a
mounted Secret, and a clean directory to fetch into. The fetch itself is the source's provider's
(adapters/sources: `fetch_model`): only files the authenticated manifest names, each to a path checked to stay
inside the target directory; nothing is trusted because it was fetched: verification of the directory follows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from modelguard.domain.credentials import Credentials, Origin, Refusal, read_secret
from modelguard.domain.errors import VerificationError


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

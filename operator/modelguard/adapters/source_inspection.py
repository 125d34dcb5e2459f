"""Inspect a model's signed files where they are (adapters/inspector.py decides nothing, domain/inspection
does): local files in place; https and oci files through ranged reads, so a safetensors file costs its header
and a zip its central directory and pickles, never a download of the weights."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from modelguard.adapters.http import read_limited
from modelguard.adapters.inspector import inspect_model, inspect_stream
from modelguard.adapters.oci import Reference, Registry
from modelguard.adapters.ranged_file import BLOCK, MAX_SKIP, RangedFile, http_ranged
from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.inspection import FileReport

if TYPE_CHECKING:
    from modelguard.adapters.model_sources import Fetch, SourceSettings


def inspect_source(request: Fetch, paths: Sequence[str], settings: SourceSettings) -> list[FileReport]:
    from modelguard.adapters.model_sources import file_url, local_path

    scheme = request.source.split("://", 1)[0]
    wanted = set(paths)
    if scheme == "file":
        root = local_path(request.source, settings.file_roots)
        return inspect_model(root, only=None if root.is_file() else wanted)
    if scheme == "https":
        reports = []
        for rel in sorted(wanted):
            detached = request.signature_format == "detached"  # the source is the one signed file
            url = request.source if detached else file_url(request.source, rel, paths)
            ranged = http_ranged(settings.http, url, request.credentials)
            reports.append(_inspected(ranged, rel))
        return reports
    if scheme == "oci":
        ref = Reference.parse(request.source)
        registry = Registry(
            settings.http, ref.host, request.credentials, plain_http=ref.host in settings.plain_http_registries
        )
        reports = []
        for layer in registry.layers(ref):
            name = layer.path or (next(iter(wanted)) if request.signature_format == "detached" else None)
            if name is None or name not in wanted:
                continue
            ranged = RangedFile(_blob_reader(registry, ref.repository, layer.digest), layer.size)
            reports.append(_inspected(ranged, name))
        seen = {r.path for r in reports}  # every signed file is inspected, or says why not (fail closed)
        reports += [FileReport(rel, "unknown", ["no layer holds this signed file"]) for rel in sorted(wanted - seen)]
        return reports
    raise VerificationError(Reason.INVALID_SOURCE, f"unsupported source scheme {scheme!r}")


def _inspected(ranged: RangedFile, name: str) -> FileReport:
    report = inspect_stream(io.BufferedReader(ranged, BLOCK), ranged.size, name)
    report.bytes_read = ranged.fetched  # what crossed the network, blocks included
    return report


def _blob_reader(registry: Registry, repository: str, digest: str) -> Callable[[int, int], bytes]:
    def fetch(offset: int, length: int) -> bytes:
        with registry.blob_range(repository, digest, offset, length) as response:
            if response.status == 206:
                return read_limited(response, length, digest)
            if offset > MAX_SKIP:
                raise Retry(Reason.SOURCE_UNREACHABLE, f"the registry does not answer ranged reads of {digest}")
            return response.read(offset + length)[offset:]

    return fetch

"""oci:// sources: an artifact in a registry, pinned by manifest digest (adapters/oci.py is the client, built
here and nowhere else: `registry`).

The registry is content-addressed: the pinned manifest digest covers every layer digest, so the signed file
digests are compared with layer digests without downloading (cost independent of model size); `deep=True`
streams and re-hashes the blobs. The pods download and re-hash the bytes they serve."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from modelguard.adapters.http import read_limited
from modelguard.adapters.oci import Layer, Reference, Registry
from modelguard.adapters.sources.base import (
    MAX_SIGNATURE,
    Deletable,
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
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, Origin, origin_of
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.inspection import FileReport
from modelguard.domain.statement import Resource, SignedManifest

BUNDLE_MEDIA_HINTS = ("sigstore.bundle", "model-signing", "modelguard.signature")


def registry(ref: Reference, settings: SourceSettings, credentials: Credentials | None) -> Registry:
    """The client for the registry of `ref`: over https, or http when the operator lists it as a plain registry
    (loopback tests). Every OCI request of the operator and the pods goes through one built here."""
    return Registry(settings.http, ref.host, credentials, plain_http=ref.host in settings.plain_http_registries)


class OciProvider(SourceProvider):
    schemes = ("oci",)
    deletable = Deletable("OCIManifest", "RegistryDelete", "HEAD answered 404")

    def origin(self, uri: str, settings: SourceSettings) -> Origin | None:
        host = uri.partition("://")[2].split("/", 1)[0]
        return origin_of(f"{'http' if host in settings.plain_http_registries else 'https'}://{host}/")

    def document(
        self, uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int
    ) -> bytes:
        raise VerificationError(Reason.INVALID_SOURCE, f"unsupported {what} scheme 'oci'")

    def signature(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bytes:
        """The one bundle layer of a signature artifact; its bytes must hash to the layer's digest."""
        ref = Reference.parse(uri)
        client = registry(ref, settings, credentials)
        chosen = [
            layer
            for layer in client.layers(ref)
            if any(h in layer.media_type for h in BUNDLE_MEDIA_HINTS)
            or (layer.path or "").endswith((".sig", ".sigstore.json"))
        ]
        if len(chosen) != 1:
            raise VerificationError(
                Reason.SIGNATURE_NOT_FOUND, "OCI signature artifact must have exactly one bundle layer"
            )
        with client.blob(ref.repository, chosen[0].digest) as response:
            data = read_limited(response, MAX_SIGNATURE, "signature")
        if "sha256:" + hashlib.sha256(data).hexdigest() != chosen[0].digest:
            raise VerificationError(Reason.DIGEST_MISMATCH, "signature blob does not match its digest")
        return data

    def verify(self, request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
        def client() -> tuple[Registry, Reference]:  # after the signature is read: it is checked first
            ref = Reference.parse(request.source)
            return registry(ref, settings, request.credentials), ref

        if request.signature_format == "detached":
            return verify_detached_remote(request, signature, lambda: _one_layer(*client()))
        return verify_remote(request, signature, lambda manifest: _resources(request, manifest, *client()))

    def inspect(self, request: Fetch, paths: Sequence[str], settings: SourceSettings) -> list[FileReport]:
        """Through ranged reads of the blobs; every signed file is inspected, or says why not (fail closed)."""
        from modelguard.adapters.ranged_file import RangedFile

        ref = Reference.parse(request.source)
        client = registry(ref, settings, request.credentials)
        wanted = set(paths)
        reports = []
        for layer in client.layers(ref):
            name = layer.path or (next(iter(wanted)) if request.signature_format == "detached" else None)
            if name is None or name not in wanted:
                continue
            ranged = RangedFile(_blob_reader(client, ref.repository, layer.digest), layer.size)
            reports.append(inspect_ranged(ranged, name))
        seen = {r.path for r in reports}
        reports += [FileReport(rel, "unknown", ["no layer holds this signed file"]) for rel in sorted(wanted - seen)]
        return reports

    def fetch(
        self,
        source: str,
        manifest: SignedManifest,
        into: Path,
        settings: SourceSettings,
        credentials: Credentials | None,
    ) -> int:
        ref = Reference.parse(source)
        client = registry(ref, settings, credentials)
        wanted = set(manifest.files)
        total = 0
        for layer in client.layers(ref):
            if layer.path and layer.path in wanted:
                with client.blob(ref.repository, layer.digest) as response:
                    total += write_file(response, into, layer.path)
        return total

    def delete(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bool:
        ref = Reference.parse(uri)
        return registry(ref, settings, credentials).delete_manifest(ref)

    def exists(self, uri: str, settings: SourceSettings, credentials: Credentials | None) -> bool:
        ref = Reference.parse(uri)
        return registry(ref, settings, credentials).exists(ref)


def _one_layer(client: Registry, ref: Reference) -> tuple[str, int]:
    layers = client.layers(ref)
    if len(layers) != 1:
        raise VerificationError(Reason.UNSUPPORTED_SOURCE, "a detached signature covers an artifact with one layer")
    return layers[0].digest.removeprefix("sha256:"), layers[0].size


def _resources(
    request: Fetch, manifest: SignedManifest, client: Registry, ref: Reference
) -> tuple[dict[str, Resource], int]:
    by_path: dict[str, Layer] = {}
    for layer in client.layers(ref):
        if not layer.path:
            continue
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
        with client.blob(ref.repository, layer.digest) as response:
            resources, _ = hash_stream(response, path, manifest.serialization, request.progress)
        found.update({r.name: r for r in resources})
    return found, total


def _blob_reader(client: Registry, repository: str, digest: str) -> Callable[[int, int], bytes]:
    from modelguard.adapters.ranged_file import MAX_SKIP

    def fetch(offset: int, length: int) -> bytes:
        with client.blob_range(repository, digest, offset, length) as response:
            if response.status == 206:
                return read_limited(response, length, digest)
            if offset > MAX_SKIP:
                raise Retry(Reason.SOURCE_UNREACHABLE, f"the registry does not answer ranged reads of {digest}")
            return response.read(offset + length)[offset:]

    return fetch

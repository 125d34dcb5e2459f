"""Where model bytes, signatures and SBOMs come from: one provider per URI scheme, chosen here and nowhere else
(ADR 0021; as Flux's source-controller chooses a bucket provider in one place behind one interface).

Every caller goes through `provider_for`: the operator's verification and inspection (adapters/
verification_service.py), the signature and SBOM fetches, the credentials' origin (reconcilers/model_access.py),
a decommission's deletion of artifacts, and the pods' fetch (cli/verify.py). A new kind of source is one new
module here (a `SourceProvider`) and its line in `PROVIDERS`; tests/unit/test_source_providers.py fails on a
scheme switch anywhere else. Providers do blocking I/O: the operator runs them on its source pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from modelguard.adapters.sources.base import (
    MAX_SIGNATURE,
    Deletable,
    Fetch,
    SourceProvider,
    SourceSettings,
)
from modelguard.adapters.sources.file import FileProvider
from modelguard.adapters.sources.https import HttpsProvider
from modelguard.adapters.sources.oci import OciProvider
from modelguard.adapters.verifier import Verified
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, Origin
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import SignedManifest

__all__ = [
    "MAX_SIGNATURE",
    "PROVIDERS",
    "Deletable",
    "Fetch",
    "SourceProvider",
    "SourceSettings",
    "fetch_document",
    "fetch_model",
    "fetch_signature",
    "provider_for",
    "source_origin",
    "verify_source",
]


def _by_scheme(*providers: SourceProvider) -> Mapping[str, SourceProvider]:
    table: dict[str, SourceProvider] = {}
    for provider in providers:
        for scheme in provider.schemes:
            assert scheme not in table, f"two providers for {scheme}://"
            table[scheme] = provider
    return table


PROVIDERS = _by_scheme(FileProvider(), HttpsProvider(), OciProvider())


def provider_for(uri: str) -> SourceProvider:
    """The provider for a URI's scheme (the scheme switch: the only one), or InvalidSource."""
    scheme, sep, _ = uri.partition("://")
    provider = PROVIDERS.get(scheme) if sep else None
    if provider is None:
        raise VerificationError(Reason.INVALID_SOURCE, f"unsupported source scheme {scheme!r}")
    return provider


def source_origin(uri: str, settings: SourceSettings) -> Origin | None:
    """The origin the source's credentials belong to: the server of an https:// source, the registry of an
    oci:// one (reached over https, or http when the operator lists it as a plain registry); None for file://."""
    return provider_for(uri).origin(uri, settings)


def fetch_document(
    uri: str, settings: SourceSettings, credentials: Credentials | None, what: str, limit: int = MAX_SIGNATURE
) -> bytes:
    """A small document (an SBOM); the credentials go along only if it is on their origin."""
    return provider_for(uri).document(uri, settings, credentials, what, limit)


def fetch_signature(uri: str, settings: SourceSettings, credentials: Credentials | None) -> bytes:
    return provider_for(uri).signature(uri, settings, credentials)


def verify_source(request: Fetch, signature: bytes, settings: SourceSettings) -> Verified:
    """Verify, then (when asked) inspect exactly the files that verified, where they are."""
    provider = provider_for(request.source)
    verified = provider.verify(request, signature, settings)
    if request.inspect is None:
        return verified
    return replace(verified, inspection=tuple(provider.inspect(request, verified.paths, settings)))


def fetch_model(
    source: str, manifest: SignedManifest, into: Path, settings: SourceSettings, credentials: Credentials | None = None
) -> int:
    """Fetch the files `manifest` lists from `source` into `into`; returns bytes written. The credentials go
    only to their own origin (the source's; never the model cache's, fetched `--via`)."""
    into.mkdir(parents=True, exist_ok=True)
    return provider_for(source).fetch(source, manifest, into, settings, credentials)

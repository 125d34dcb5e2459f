"""Runs verifications off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path

from modelguard.adapters.http import HttpClient
from modelguard.adapters.model_sources import Fetch, SourceSettings, fetch_document, fetch_signature, verify_source
from modelguard.adapters.oci import Credentials
from modelguard.adapters.verifier import Verified


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


class ModelVerifier:
    def __init__(self, settings: SourceSettings, max_concurrent: int = 2) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(max_concurrent)

    @classmethod
    def create(
        cls,
        *,
        file_roots: tuple[Path, ...] = (),
        ca_bundle: Path | None = None,
        plain_http_registries: tuple[str, ...] = (),
        workers: int | None = None,
        max_concurrent: int = 2,
    ) -> ModelVerifier:
        settings = SourceSettings(HttpClient(ssl_context(ca_bundle)), file_roots, plain_http_registries, workers)
        return cls(settings, max_concurrent)

    def _within(self, allowed: tuple[str, ...]) -> SourceSettings:
        """The settings for one fetch: redirects must stay under the policy's allowed sources."""
        return replace(self.settings, http=replace(self.settings.http, allowed_prefixes=allowed))

    async def signature(self, uri: str, credentials: Credentials | None, *, allowed: tuple[str, ...]) -> bytes:
        return await asyncio.to_thread(fetch_signature, uri, self._within(allowed), credentials)

    async def document(self, uri: str, what: str, limit: int, *, allowed: tuple[str, ...]) -> bytes:
        return await asyncio.to_thread(fetch_document, uri, self._within(allowed), None, what, limit)

    async def verify(self, request: Fetch, signature: bytes, *, allowed: tuple[str, ...]) -> Verified:
        async with self._slots:
            return await asyncio.to_thread(verify_source, request, signature, self._within(allowed))

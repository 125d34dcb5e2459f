"""Runs source work (fetching signatures, SBOMs and models, hashing them) off the event loop, on its own
thread pool, each call under an overall deadline and within the tenant's share of source slots.

The API client has a pool of its own, so admission and reconciles never wait behind a slow source.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from modelguard.adapters.http import Deadline, HttpClient
from modelguard.adapters.source_slots import SourceSlots
from modelguard.adapters.sources import (
    Fetch,
    SourceSettings,
    fetch_document,
    fetch_signature,
    provider_for,
    verify_source,
)
from modelguard.adapters.verifier import Verified
from modelguard.domain.credentials import Credentials

T = TypeVar("T")

FETCH_DEADLINE = 60.0  # a signature, an SBOM, a registry call
VERIFY_DEADLINE = 3600.0  # a whole model: download and hash (tens of GB over a slow link)


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


class ModelVerifier:
    def __init__(
        self,
        settings: SourceSettings,
        slots: SourceSlots | None = None,
        *,
        fetch_deadline: float = FETCH_DEADLINE,
        verify_deadline: float = VERIFY_DEADLINE,
    ) -> None:
        self.settings = settings
        self.slots = slots or SourceSlots()
        self.fetch_deadline, self.verify_deadline = fetch_deadline, verify_deadline
        # one thread per slot that may be held, and as many again for work that ends at its deadline
        # after its reconcile gave up waiting for it
        self._pool = ThreadPoolExecutor(max_workers=2 * self.slots.total, thread_name_prefix="source")

    @classmethod
    def create(
        cls,
        *,
        file_roots: tuple[Path, ...] = (),
        ca_bundle: Path | None = None,
        plain_http_registries: tuple[str, ...] = (),
        workers: int | None = None,
        slots: SourceSlots | None = None,
        fetch_deadline: float = FETCH_DEADLINE,
        verify_deadline: float = VERIFY_DEADLINE,
    ) -> ModelVerifier:
        settings = SourceSettings(HttpClient(ssl_context(ca_bundle)), file_roots, plain_http_registries, workers)
        return cls(settings, slots, fetch_deadline=fetch_deadline, verify_deadline=verify_deadline)

    def within(self, allowed: tuple[str, ...] | None, deadline: Deadline) -> SourceSettings:
        """The settings for one call: redirects must stay under the policy's allowed sources (None: no
        policy applies), and every connection ends by the deadline."""
        http = replace(self.settings.http, allowed_prefixes=allowed, deadline=deadline)
        return replace(self.settings, http=http)

    async def run(self, seconds: float, what: str, work: Callable[[Deadline], T]) -> T:
        """Run blocking source work on the source pool, under a deadline of `seconds`."""
        deadline = Deadline(seconds, what)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(deadline.run, functools.partial(work, deadline))
        )

    async def signature(self, uri: str, credentials: Credentials | None, *, allowed: tuple[str, ...]) -> bytes:
        return await self.run(
            self.fetch_deadline,
            "the signature's source",
            lambda d: fetch_signature(uri, self.within(allowed, d), credentials),
        )

    async def document(self, uri: str, what: str, limit: int, *, allowed: tuple[str, ...]) -> bytes:
        return await self.run(
            self.fetch_deadline,
            f"the {what}'s source",
            lambda d: fetch_document(uri, self.within(allowed, d), None, what, limit),
        )

    async def verify(self, request: Fetch, signature: bytes, *, allowed: tuple[str, ...]) -> Verified:
        return await self.run(
            self.verify_deadline,
            "the model's source",
            lambda d: verify_source(request, signature, self.within(allowed, d)),
        )

    async def delete_artifact(self, uri: str, credentials: Credentials | None) -> bool:
        """Delete an artifact at its source (a decommission; its provider says whether it deletes any); False
        when it was already gone."""
        provider = provider_for(uri)
        return await self.run(
            self.fetch_deadline,
            "the artifact's source",
            lambda d: provider.delete(uri, self.within(None, d), credentials),
        )

    async def artifact_exists(self, uri: str, credentials: Credentials | None) -> bool:
        provider = provider_for(uri)
        return await self.run(
            self.fetch_deadline,
            "the artifact's source",
            lambda d: provider.exists(uri, self.within(None, d), credentials),
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

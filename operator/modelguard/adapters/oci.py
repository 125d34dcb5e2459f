"""OCI distribution client: manifests pinned by digest, blobs streamed, token auth (worker threads).

Credentials go only to the registry's own origin (domain/credentials.may_carry), and so does the token dance:
a Bearer challenge whose realm is on another origin is refused (TokenRealmNotAllowed), never fetched, with
credentials or without (the challenge is the server's, and the server may be the tenant's)."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass

from modelguard.adapters.http import HttpClient, HttpStatusError, read_limited
from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, may_carry, origin_of, valid_token
from modelguard.domain.errors import Retry, VerificationError

__all__ = ["Credentials", "Layer", "Reference", "Registry"]

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
MAX_MANIFEST = 4 * 1024 * 1024
TITLE = "org.opencontainers.image.title"
MODELPACK_PATH = "org.cncf.model.filepath"
_REF = re.compile(r"^oci://(?P<host>[^/]+)/(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*)@(?P<digest>sha256:[a-f0-9]{64})$")


@dataclass(frozen=True)
class Reference:
    host: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, uri: str) -> Reference:
        match = _REF.match(uri)
        if not match:
            raise VerificationError(
                Reason.INVALID_SOURCE, "oci:// reference must be oci://host/repository@sha256:<64 hex>"
            )
        return cls(match["host"], match["repo"], match["digest"])


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str
    path: str | None


def _challenge(header: str) -> dict[str, str]:
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


class Registry:
    """One registry host. Scheme: https, or http for loopback registries (tests)."""

    def __init__(
        self, client: HttpClient, host: str, credentials: Credentials | None = None, plain_http: bool = False
    ) -> None:
        self._client = client
        self._host = host
        self._base = f"{'http' if plain_http else 'https'}://{host}"
        self._origin = origin_of(self._base)
        self._credentials = credentials  # sent only where they belong (another registry's never reach this one)
        self._token: Credentials | None = None  # from the registry's token realm: the registry's own

    def _open(
        self, path: str, accept: str | None = None, method: str = "GET", extra: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        headers = {"Accept": accept} if accept else {}
        headers.update(extra or {})
        for attempt in range(2):
            try:
                return self._client.open(
                    self._base + path, headers, method, credentials=self._token or self._credentials
                )
            except HttpStatusError as exc:
                if exc.status != 401 or attempt or not exc.challenge:
                    raise
                token = self._fetch_token(_challenge(exc.challenge))
                if token is None:
                    raise
                self._token = Credentials(self._origin, token=token)
        raise Retry(Reason.SOURCE_UNAUTHORIZED, "registry refused the credentials")

    def _fetch_token(self, challenge: dict[str, str]) -> str | None:
        realm = challenge.get("realm")
        if not realm:
            return None
        if not may_carry(self._origin, realm):  # a request the server chose, to another origin: not made
            where = urllib.parse.urlsplit(realm).hostname or "an unparsable URL"
            raise VerificationError(
                Reason.TOKEN_REALM_NOT_ALLOWED,
                f"registry {self._host} sends its clients to {where} for a token; tokens are fetched only from the "
                "registry's own origin",
            )
        query = urllib.parse.urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
        basic = self._credentials if self._credentials is not None and self._credentials.token is None else None
        with self._client.open(f"{realm}?{query}" if query else realm, credentials=basic) as response:
            raw = read_limited(response, 1024 * 1024, "token response")
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise Retry(
                Reason.SOURCE_UNAUTHORIZED, f"registry {self._host} answered with an unreadable token"
            ) from None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not token:
            return None
        if not isinstance(token, str) or not valid_token(token):
            raise Retry(Reason.SOURCE_UNAUTHORIZED, f"registry {self._host} answered with an unusable token")
        return token

    def manifest(self, ref: Reference) -> tuple[bytes, dict[str, object]]:
        """The manifest pinned by ref.digest; its bytes must hash to that digest."""
        with self._open(f"/v2/{ref.repository}/manifests/{ref.digest}", MANIFEST_TYPES) as response:
            raw = read_limited(response, MAX_MANIFEST, "OCI manifest")
        actual = "sha256:" + hashlib.sha256(raw).hexdigest()
        if actual != ref.digest:
            raise VerificationError(
                Reason.MANIFEST_DIGEST_MISMATCH,
                f"registry {ref.host} served a manifest with digest {actual}, not {ref.digest}",
            )
        try:
            doc = json.loads(raw)
        except ValueError:
            raise VerificationError(Reason.MALFORMED_MANIFEST, "OCI manifest is not JSON") from None
        if not isinstance(doc, dict):
            raise VerificationError(Reason.MALFORMED_MANIFEST, "OCI manifest is not a JSON object")
        return raw, doc

    def layers(self, ref: Reference) -> list[Layer]:
        _, doc = self.manifest(ref)
        entries = doc.get("layers")
        if not isinstance(entries, list):
            raise VerificationError(Reason.MALFORMED_MANIFEST, "OCI manifest has no layers")
        out = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                raise VerificationError(Reason.MALFORMED_MANIFEST, "OCI layer without digest")
            annotations = entry.get("annotations") or {}
            path = annotations.get(TITLE) or annotations.get(MODELPACK_PATH) if isinstance(annotations, dict) else None
            out.append(
                Layer(
                    entry["digest"],
                    int(entry.get("size") or 0),
                    str(entry.get("mediaType") or ""),
                    str(path) if path else None,
                )
            )
        return out

    def blob(self, repository: str, digest: str) -> http.client.HTTPResponse:
        return self._open(f"/v2/{repository}/blobs/{digest}")

    def blob_range(self, repository: str, digest: str, offset: int, length: int) -> http.client.HTTPResponse:
        """Part of a blob (registries answer Range on blobs; one that does not sends it whole)."""
        return self._open(f"/v2/{repository}/blobs/{digest}", extra={"Range": f"bytes={offset}-{offset + length - 1}"})

    def delete_manifest(self, ref: Reference) -> bool:
        """DELETE the manifest; False when it was already gone."""
        try:
            with self._open(f"/v2/{ref.repository}/manifests/{ref.digest}", method="DELETE"):
                return True
        except HttpStatusError as exc:
            if exc.status == 404:
                return False
            raise

    def exists(self, ref: Reference) -> bool:
        try:
            with self._open(f"/v2/{ref.repository}/manifests/{ref.digest}", MANIFEST_TYPES, method="HEAD"):
                return True
        except HttpStatusError as exc:
            if exc.status == 404:
                return False
            raise

"""Minimal HTTPS client for artifact sources and registries (runs in worker threads).

- Redirects are followed by hand (at most 5); credentials are dropped when a redirect leaves the
  origin, so a registry's blob redirect to object storage never carries our registry password; with
  `allowed_prefixes` (the TrustPolicy's allowed sources) every redirect must land under one of them.
- Plain http:// is refused except to loopback (tests, local registries).
- Errors become Retry (transient) with a reason; messages carry the host, never credentials.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.trust import source_allowed

MAX_REDIRECTS = 5


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HttpClient:
    ssl_context: ssl.SSLContext
    timeout: float = 30.0
    allowed_prefixes: tuple[str, ...] | None = None  # None: no policy (the CLI, the audit sink)

    def open(
        self, url: str, headers: Mapping[str, str] | None = None, method: str = "GET", data: bytes | None = None
    ) -> http.client.HTTPResponse:
        """Open url and return the response (status 2xx), following redirects safely."""
        current = url
        send = dict(headers or {})
        origin = urllib.parse.urlsplit(url).netloc
        opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=self.ssl_context))
        for _ in range(MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(current)
            if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
                raise VerificationError("InsecureSource", f"refusing {parts.scheme}:// to {parts.hostname}")
            request = urllib.request.Request(current, data=data, headers=send, method=method)  # noqa: S310 (scheme checked)
            try:
                response = opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                    current = urllib.parse.urljoin(current, exc.headers["Location"])
                    exc.close()
                    if self.allowed_prefixes is not None and not source_allowed(current, self.allowed_prefixes):
                        where = urllib.parse.urlsplit(current).hostname
                        raise VerificationError(
                            "RedirectNotAllowed",
                            f"{parts.hostname} redirected to {where}, which is not under an allowed source",
                        ) from None
                    if urllib.parse.urlsplit(current).netloc != origin:
                        send.pop("Authorization", None)
                    continue
                raise http_error(exc.code, parts.hostname or "", exc.headers.get("WWW-Authenticate")) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError) as exc:
                reason = getattr(exc, "reason", exc)
                raise Retry("SourceUnreachable", f"{parts.hostname}: {type(reason).__name__}") from None
            return response  # type: ignore[no-any-return]
        raise Retry("SourceUnreachable", f"too many redirects from {urllib.parse.urlsplit(url).hostname}")


class HttpStatusError(Retry):
    """A non-2xx answer; `status` and the server's WWW-Authenticate challenge are kept for auth flows."""

    def __init__(self, reason: str, message: str, status: int, challenge: str | None) -> None:
        super().__init__(reason, message)
        self.status = status
        self.challenge = challenge


def http_error(status: int, host: str, challenge: str | None = None) -> HttpStatusError:
    if status in (401, 403):
        return HttpStatusError("SourceUnauthorized", f"{host} answered {status}", status, challenge)
    if status == 404:
        return HttpStatusError("SourceNotFound", f"{host} answered 404", status, challenge)
    return HttpStatusError("SourceUnreachable", f"{host} answered {status}", status, challenge)


def read_limited(response: http.client.HTTPResponse, limit: int, what: str) -> bytes:
    data = response.read(limit + 1)
    if len(data) > limit:
        raise VerificationError("TooLarge", f"{what} is larger than {limit} bytes")
    return data

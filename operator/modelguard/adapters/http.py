"""Minimal HTTPS client for artifact sources and registries (runs in worker threads).

- Redirects are followed by hand (at most 5). Credentials go with a request, the first and every redirect,
  only to their own origin (domain/credentials.may_carry): a registry's blob redirect to object storage never
  carries our registry password, a signature bundle on another server never gets the source's. With
  `allowed_prefixes` (the TrustPolicy's allowed sources) every redirect must land under one of them.
- Plain http:// is refused except to loopback (tests, local registries).
- Errors become Retry (transient) with a reason; messages carry the host, never credentials.
- With a `Deadline`, the whole fetch (connects, headers, redirects, body) ends by that time: a server that
  answers one byte every few seconds never trips a per-read timeout, so when the deadline passes every
  connection of the fetch is shut down from a timer thread and the blocked read fails at once
  (SourceTimedOut).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from modelguard.api.condition_reasons import Reason
from modelguard.domain.credentials import Credentials, authorization_for, may_carry, origin_of
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.trust import source_allowed

MAX_REDIRECTS = 5
T = TypeVar("T")


class Deadline:
    """One fetch's overall time limit, enforced on every connection the fetch opens."""

    def __init__(self, seconds: float, what: str = "the source") -> None:
        self.seconds, self.what = seconds, what
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.expired = False

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def timed_out(self) -> Retry:
        return Retry(Reason.SOURCE_TIMED_OUT, f"{self.what} did not answer in full within {self.seconds:g} s")

    def check(self) -> float:
        """The time left; raises SourceTimedOut when there is none."""
        left = self.remaining()
        if left <= 0 or self.expired:
            raise self.timed_out()
        return left

    def track(self, sock: socket.socket) -> None:
        """Shut `sock` when the deadline passes. Socket objects (never bare descriptors) are kept: a closed
        one answers -1 and is dropped, so a descriptor reused by someone else is never touched."""
        with self._lock:
            if self.expired:
                _shut(sock)
            self._sockets = {s for s in self._sockets if s.fileno() != -1}
            self._sockets.add(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` (in this thread) under the deadline: whatever it raises after expiry is SourceTimedOut."""
        timer = threading.Timer(max(0.0, self.remaining()), self.expire)
        timer.daemon = True
        timer.start()
        try:
            result = work()
        except Exception:
            if self.expired:
                raise self.timed_out() from None
            raise
        else:
            if self.expired:  # a connection shut mid-body can look like a short, complete answer
                raise self.timed_out()
            return result
        finally:
            timer.cancel()
            with self._lock:
                for sock in self._sockets:
                    with contextlib.suppress(OSError):
                        sock.close()
                self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _tracked(base: type[http.client.HTTPConnection], deadline: Deadline) -> Callable[..., http.client.HTTPConnection]:
    """A connection class for urllib whose sockets the deadline can shut: the plain socket from the start,
    and the TLS socket before its handshake (so a handshake fed one byte at a time is cut too)."""

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        deadline.check()
        sock = socket.create_connection(*args, **kwargs)
        deadline.track(sock)
        return sock

    def init(conn: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(conn, *args, **kwargs)
        conn._create_connection = create_connection

    def connect_tls(conn: Any) -> None:  # HTTPSConnection.connect, with the handshake after tracking
        http.client.HTTPConnection.connect(conn)
        hostname = conn._tunnel_host or conn.host
        conn.sock = conn._context.wrap_socket(conn.sock, server_hostname=hostname, do_handshake_on_connect=False)
        deadline.track(conn.sock)
        conn.sock.do_handshake()

    methods: dict[str, Any] = {"__init__": init}
    if issubclass(base, http.client.HTTPSConnection):
        methods["connect"] = connect_tls
    return type(f"Tracked{base.__name__}", (base,), methods)


class _DeadlineHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, deadline: Deadline) -> None:
        super().__init__(context=context)
        self._https = _tracked(http.client.HTTPSConnection, deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._https, req, context=self._context)  # type: ignore[attr-defined]


class _DeadlineHTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._http = _tracked(http.client.HTTPConnection, deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._http, req)


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


def scheme_allowed(parts: urllib.parse.SplitResult, plain_http: bool) -> bool:
    """https anywhere; http to loopback, or anywhere for the in-cluster model cache (plain_http)."""
    return parts.scheme == "https" or (parts.scheme == "http" and (plain_http or is_loopback(parts.hostname or "")))


@dataclass(frozen=True)
class HttpClient:
    ssl_context: ssl.SSLContext
    timeout: float = 30.0
    allowed_prefixes: tuple[str, ...] | None = None  # None: no policy (the CLI, the audit sink)
    deadline: Deadline | None = None  # None: only the per-read timeout
    # http:// to any host: only for the in-cluster model cache, whose bytes are verified after fetching
    plain_http: bool = False

    def _opener(self) -> urllib.request.OpenerDirector:
        if self.deadline is None:
            return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=self.ssl_context))
        return urllib.request.build_opener(
            _NoRedirect, _DeadlineHTTPS(self.ssl_context, self.deadline), _DeadlineHTTP(self.deadline)
        )

    def _timeout(self) -> float:
        return self.timeout if self.deadline is None else min(self.timeout, self.deadline.check())

    def open(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: bytes | None = None,
        credentials: Credentials | None = None,
    ) -> http.client.HTTPResponse:
        """Open url and return the response (status 2xx), following redirects safely. `credentials` go with each
        request whose URL is on their own origin; an Authorization header in `headers` belongs to the origin
        of `url` and follows the same rule."""
        current = url
        given = dict(headers or {})
        explicit = given.pop("Authorization", None)
        home = origin_of(url)
        opener = self._opener()
        for _ in range(MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(current)
            if not scheme_allowed(parts, self.plain_http):
                raise VerificationError(Reason.INSECURE_SOURCE, f"refusing {parts.scheme}:// to {parts.hostname}")
            send = {**given, **authorization_for(credentials, current)}
            if explicit is not None and may_carry(home, current):
                send["Authorization"] = explicit
            request = urllib.request.Request(current, data=data, headers=send, method=method)  # noqa: S310 (scheme checked)
            try:
                response = opener.open(request, timeout=self._timeout())
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                    current = urllib.parse.urljoin(current, exc.headers["Location"])
                    exc.close()
                    if self.allowed_prefixes is not None and not source_allowed(current, self.allowed_prefixes):
                        where = urllib.parse.urlsplit(current).hostname
                        raise VerificationError(
                            Reason.REDIRECT_NOT_ALLOWED,
                            f"{parts.hostname} redirected to {where}, which is not under an allowed source",
                        ) from None
                    continue
                challenge = exc.headers.get("WWW-Authenticate")
                exc.close()
                raise http_error(exc.code, parts.hostname or "", challenge) from None
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                ssl.SSLError,
                http.client.HTTPException,
            ) as exc:
                if self.deadline is not None and self.deadline.expired:
                    raise self.deadline.timed_out() from None
                reason = getattr(exc, "reason", exc)
                raise Retry(Reason.SOURCE_UNREACHABLE, f"{parts.hostname}: {type(reason).__name__}") from None
            return response  # type: ignore[no-any-return]
        raise Retry(Reason.SOURCE_UNREACHABLE, f"too many redirects from {urllib.parse.urlsplit(url).hostname}")


class HttpStatusError(Retry):
    """A non-2xx answer; `status` and the server's WWW-Authenticate challenge are kept for auth flows."""

    def __init__(self, reason: str, message: str, status: int, challenge: str | None) -> None:
        super().__init__(reason, message)
        self.status = status
        self.challenge = challenge


def http_error(status: int, host: str, challenge: str | None = None) -> HttpStatusError:
    if status in (401, 403):
        return HttpStatusError(Reason.SOURCE_UNAUTHORIZED, f"{host} answered {status}", status, challenge)
    if status == 404:
        return HttpStatusError(Reason.SOURCE_NOT_FOUND, f"{host} answered 404", status, challenge)
    return HttpStatusError(Reason.SOURCE_UNREACHABLE, f"{host} answered {status}", status, challenge)


def read_limited(response: http.client.HTTPResponse, limit: int, what: str) -> bytes:
    data = response.read(limit + 1)
    if len(data) > limit:
        raise VerificationError(Reason.TOO_LARGE, f"{what} is larger than {limit} bytes")
    if response.length:  # Content-Length promised more than arrived: the connection ended early
        raise Retry(Reason.SOURCE_UNREACHABLE, f"the answer for {what} was cut short ({len(data)} bytes)")
    return data

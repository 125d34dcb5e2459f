"""A model source's credentials: which Secrets may hold them, and where they may go (issue 27, items 1 and 2).

A tenant names a Secret of its namespace in `spec.source.credentialsSecretRef`; being able to name a Secret
is not being allowed to hand it out. Only Secrets made to hold credentials are read:

- `kubernetes.io/basic-auth`: `username` and `password`;
- `kubernetes.io/dockerconfigjson`: the `auths` entry of the source's host (`auth`, or `username` and
  `password`);
- `Opaque` (the type of a Secret created without one) holding exactly `username` and `password`, or exactly
  `token` (a Bearer token), nothing more.

Everything else is refused (`CredentialsRefused`): a ServiceAccount's token (`kubernetes.io/service-account-token`),
TLS keys, bootstrap tokens, unknown types, an Opaque Secret with other keys.

Values are used byte for byte. The operator decodes the Secret's base64, the pod reads the files its Secret
volume holds, and both hand those bytes to `read_secret`: nothing is stripped on either side, so a value with a
trailing newline is refused (`InvalidCredentials`), never trimmed here and sent whole there.

Credentials belong to the origin (scheme, host, port) of the model's source (its provider's `origin`,
adapters/sources). `may_carry` is the one rule every request follows, the operator's and the pods', redirects
included: they go with a request only to that very origin, never to a signature bundle, an SBOM or a token
realm elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from modelguard.api.condition_reasons import Reason

BASIC_AUTH = "kubernetes.io/basic-auth"
DOCKER_CONFIG = "kubernetes.io/dockerconfigjson"
OPAQUE = "Opaque"
OPAQUE_KEYS = (frozenset({"username", "password"}), frozenset({"token"}))
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALLOWED = f"{BASIC_AUTH}, {DOCKER_CONFIG}, or {OPAQUE} with exactly username and password, or exactly token"


@dataclass(frozen=True, order=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL (default ports made explicit, the host lower-cased); None for anything else."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname, port or _DEFAULT_PORTS[scheme])


def may_carry(belongs_to: Origin | None, url: str) -> bool:
    """Whether credentials that belong to `belongs_to` may go with a request to `url`: only to that origin."""
    return belongs_to is not None and origin_of(url) == belongs_to


@dataclass(frozen=True)
class Credentials:
    """Credentials for one origin: a username and password (Basic), or a token (Bearer)."""

    origin: Origin | None  # None: a source without one (file://): they go nowhere
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    secret_type: str | None = None  # the type of the Secret they were read from (the pods are told it)

    def basic(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def authorization(self) -> str | None:
        return f"Bearer {self.token}" if self.token is not None else self.basic()


def authorization_for(credentials: Credentials | None, url: str) -> dict[str, str]:
    """The Authorization header for a request to `url`: the credentials' own origin gets it, no other URL."""
    value = credentials.authorization() if credentials is not None else None
    if value is None or credentials is None or not may_carry(credentials.origin, url):
        return {}
    return {"Authorization": value}


@dataclass(frozen=True)
class Refusal:
    """Why a Secret gives no credentials: `CredentialsRefused` (not a credentials Secret) or `InvalidCredentials`."""

    reason: str
    message: str


def read_secret(name: str, secret_type: str, data: Mapping[str, bytes], origin: Origin | None) -> Credentials | Refusal:
    """Credentials from a Secret's type and (decoded) data, bound to `origin`, or why not. Pure: the operator
    calls it with the Secret it read, the pod with the files of the Secret volume and the type the operator saw."""
    kind = secret_type or OPAQUE  # the API server's default for a Secret created without a type
    if kind == BASIC_AUTH:
        return _basic(name, kind, data.get("username"), data.get("password"), origin)
    if kind == DOCKER_CONFIG:
        return _docker_config(name, data.get(".dockerconfigjson"), origin)
    if kind == OPAQUE:
        keys = frozenset(data)
        if keys == {"token"}:
            return _bearer(name, data["token"], origin)
        if keys == {"username", "password"}:
            return _basic(name, kind, data["username"], data["password"], origin)
        shown = ", ".join(sorted(keys)[:8]) or "nothing"
        return Refusal(
            Reason.CREDENTIALS_REFUSED,
            f"Secret {name!r} is {OPAQUE} and holds {shown}; a credentials Secret is {_ALLOWED}",
        )
    return Refusal(
        Reason.CREDENTIALS_REFUSED,
        f"Secret {name!r} is of type {kind[:100]!r}, which does not hold source credentials; use {_ALLOWED}",
    )


def valid_token(token: str) -> bool:
    """A Bearer token: printable ASCII without spaces (RFC 6750's b64token is narrower; registries vary)."""
    return bool(token) and all("!" <= c <= "~" for c in token)


def _text(name: str, key: str, raw: bytes | None) -> str | Refusal:
    if raw is None or raw == b"":
        return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has no {key}")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r}: {key} is not UTF-8")
    if any(c < " " or c == "\x7f" for c in value):
        return Refusal(
            Reason.INVALID_CREDENTIALS,
            f"Secret {name!r}: {key} holds a control character (a trailing newline?); values are used byte for byte",
        )
    return value


def _basic(
    name: str, kind: str, user: bytes | None, password: bytes | None, origin: Origin | None
) -> Credentials | Refusal:
    username, secret = _text(name, "username", user), _text(name, "password", password)
    if isinstance(username, Refusal):
        return username
    if isinstance(secret, Refusal):
        return secret
    if ":" in username:
        return Refusal(
            Reason.INVALID_CREDENTIALS, f"Secret {name!r}: a username may not hold ':' (Basic authentication)"
        )
    return Credentials(origin, username=username, password=secret, secret_type=kind)


def _bearer(name: str, raw: bytes, origin: Origin | None) -> Credentials | Refusal:
    token = _text(name, "token", raw)
    if isinstance(token, Refusal):
        return token
    if not valid_token(token):
        return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r}: the token holds spaces or non-ASCII characters")
    return Credentials(origin, token=token, secret_type=OPAQUE)


def _names(key: str, origin: Origin) -> bool:
    """Whether a dockerconfigjson `auths` key (`host`, `host:port` or a URL) names the origin's host and port."""
    found = origin_of(key if "://" in key else f"{origin.scheme}://{key}")
    return found is not None and (found.host, found.port) == (origin.host, origin.port)


def _docker_config(name: str, raw: bytes | None, origin: Origin | None) -> Credentials | Refusal:
    invalid = Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has an invalid .dockerconfigjson")
    if not raw:
        return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has no .dockerconfigjson")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return invalid
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return invalid
    entries = [auths[k] for k in sorted(auths) if origin is not None and _names(k, origin)]
    entry = entries[0] if entries else None
    where = f"{origin.host}:{origin.port}" if origin else "a source without an origin"
    if not isinstance(entry, dict):
        return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has no credentials for {where}")
    if isinstance(entry.get("auth"), str):
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has an invalid auth entry for {where}")
        if not sep:
            return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has an invalid auth entry for {where}")
        return _basic(name, DOCKER_CONFIG, user, password, origin)
    named, secret = entry.get("username"), entry.get("password")
    if isinstance(named, str) and isinstance(secret, str):
        return _basic(name, DOCKER_CONFIG, named.encode(), secret.encode(), origin)
    return Refusal(Reason.INVALID_CREDENTIALS, f"Secret {name!r} has no username and password for {where}")

"""Where the API server is and how to authenticate to it: in-cluster service account or a kubeconfig.

The operator process reads its credentials here instead of through the official client's config loader:
importing the official client (any part of it loads its ~700 API model classes) costs about 45 MiB of the
operator's resident memory, for an operator that only needs JSON over HTTPS (docs/adr/0016-operator-memory.md).
The operator runs in a pod with a service account; outside a pod a kubeconfig with a certificate or a
token is enough (the control planes of the tests, kind, a local cluster). Kubeconfigs whose user runs an
exec plugin or an auth provider (cloud logins) are refused with a clear message: `modelguard` commands run
on a workstation (report, audit, register, certificate) still read them with the official client
(`from_client_configuration`).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from kubernetes.client import Configuration

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0  # projected service account tokens rotate; the kubelet renews them well before expiry


class NoCredentials(Exception):
    """No usable credentials: the message says what to do."""


@dataclass(frozen=True)
class Connection:
    """The API server's address, the CA to trust, and the client's credentials (paths or PEM data)."""

    server: str
    ca_path: str | None = None
    ca_data: str | None = None  # PEM
    certificate_path: str | None = None
    certificate_data: str | None = None  # PEM
    private_key_path: str | None = None
    private_key_data: str | None = None  # PEM
    token: str | None = None
    token_path: str | None = None  # read again every TOKEN_REREAD_SECONDS
    insecure: bool = False
    _token_cache: dict[str, tuple[float, str]] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def bearer_token(self) -> str | None:
        """The token to send now: the static one, or the token file's content (cached for a minute)."""
        if self.token_path is None:
            return self.token
        with self._lock:
            now = time.monotonic()
            cached = self._token_cache.get(self.token_path)
            if cached is None or now - cached[0] > TOKEN_REREAD_SECONDS:
                cached = (now, Path(self.token_path).read_text(encoding="utf-8").strip())
                self._token_cache[self.token_path] = cached
            return cached[1] or None

    def ssl_context(self) -> ssl.SSLContext:
        """Server verification against the configured CA (or the system's), with the client certificate."""
        context = ssl.create_default_context(cafile=self.ca_path, cadata=self.ca_data)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certificate_path or self.certificate_data:
            _load_client_certificate(context, self)
        return context


def _load_client_certificate(context: ssl.SSLContext, conn: Connection) -> None:
    # the ssl module loads certificates from files only: PEM data goes to a private directory, removed at once
    with tempfile.TemporaryDirectory(prefix="modelguard-kube-") as tmp:
        cert = conn.certificate_path or _private_file(Path(tmp) / "client.crt", conn.certificate_data)
        key = conn.private_key_path or _private_file(Path(tmp) / "client.key", conn.private_key_data)
        context.load_cert_chain(cert, key)


def _private_file(path: Path, data: str | None) -> str:
    if data is None:
        raise NoCredentials("a client certificate needs its key (and a key its certificate)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
    return str(path)


def in_cluster(environ: Mapping[str, str] | None = None, account: Path = SERVICE_ACCOUNT) -> Connection:
    """The pod's service account, and the API server by the address the kubelet puts in the environment (no
    DNS lookup, like the official client)."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    token = account / "token"
    if not host or not token.is_file():
        raise NoCredentials("not in a pod: KUBERNETES_SERVICE_HOST or the service account token is missing")
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca = account / "ca.crt"
    return Connection(server=server, ca_path=str(ca) if ca.is_file() else None, token_path=str(token))


def from_kubeconfig(path: Path, context: str | None = None) -> Connection:
    """The current (or named) context of a kubeconfig file; relative paths are relative to the file."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise NoCredentials(f"no kubeconfig at {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise NoCredentials(f"cannot read the kubeconfig {path}: {type(exc).__name__}") from None
    name = context or config.get("current-context")
    chosen = _named(config, "contexts", name, path)
    cluster = _named(config, "clusters", chosen.get("cluster"), path)
    user = _named(config, "users", chosen.get("user"), path) if chosen.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise NoCredentials(
            f"the kubeconfig user {chosen.get('user')!r} logs in through an exec plugin or auth provider, which "
            "`modelguard run` does not run: run the operator in the cluster (the Helm chart) or use a kubeconfig "
            "with a client certificate or a token"
        )
    base = path.parent

    def local(value: object) -> str | None:
        return str(base / str(value)) if value else None

    return Connection(
        server=str(cluster.get("server") or ""),
        ca_path=local(cluster.get("certificate-authority")),
        ca_data=_pem(cluster.get("certificate-authority-data")),
        certificate_path=local(user.get("client-certificate")),
        certificate_data=_pem(user.get("client-certificate-data")),
        private_key_path=local(user.get("client-key")),
        private_key_data=_pem(user.get("client-key-data")),
        token=str(user["token"]) if user.get("token") else None,
        token_path=local(user.get("tokenFile")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def _named(config: Mapping[str, Any], section: str, name: object, path: Path) -> dict[str, Any]:
    for item in config.get(section) or []:
        if isinstance(item, Mapping) and item.get("name") == name:
            return dict(item.get(section[:-1]) or {})
    raise NoCredentials(f"the kubeconfig {path} has no {section[:-1]} named {name!r}")


def _pem(value: object) -> str | None:
    return base64.b64decode(str(value)).decode() if value else None


def load(environ: Mapping[str, str] | None = None) -> Connection:
    """In a pod its service account; elsewhere the first file of $KUBECONFIG, or ~/.kube/config."""
    env = os.environ if environ is None else environ
    if env.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster(env)
    configured = (env.get("KUBECONFIG") or "").split(os.pathsep)[0]
    return from_kubeconfig(Path(configured).expanduser() if configured else Path.home() / ".kube" / "config")


def from_client_configuration(cfg: Configuration) -> Connection:
    """What the official client's loader found (any kubeconfig it supports, exec plugins included), for the
    commands people run on a workstation. The token is the one valid now (a short-lived command)."""
    if cfg.refresh_api_key_hook is not None:
        cfg.refresh_api_key_hook(cfg)
    auth = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    _scheme, _, token = (auth or "").partition(" ")
    return Connection(
        server=str(cfg.host),
        ca_path=cfg.ssl_ca_cert,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        token=token or None,
        insecure=not cfg.verify_ssl,
    )

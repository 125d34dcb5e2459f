"""A model source's credentials (issue 27, items 1 and 2): only credentials Secrets are read, by one rule on both
sides (the operator from the Secret, the pod from its volume), byte for byte; and they go only to the origin of
the source: not to a signature bundle or SBOM elsewhere, not after a redirect elsewhere, and a registry's token
realm on another origin is refused, not asked."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from modelguard.adapters.fetch import mounted_credentials
from modelguard.adapters.http import HttpClient
from modelguard.adapters.oci import Reference, Registry
from modelguard.adapters.secrets import source_credentials
from modelguard.adapters.sources import SourceSettings, fetch_document, fetch_model, source_origin
from modelguard.domain.credentials import (
    Credentials,
    Origin,
    Refusal,
    authorization_for,
    may_carry,
    origin_of,
    read_secret,
)
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.statement import Resource, Serialization, SignedManifest
from tests.harness.certs import LocalCA

HERE = Origin("https", "models.example", 443)
B = base64.b64encode


def docker(auths: dict[str, Any]) -> bytes:
    return json.dumps({"auths": auths}).encode()


# --- which Secrets hold credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret_type", "data", "expected"),
    [
        ("kubernetes.io/basic-auth", {"username": b"alice", "password": b"s3cret"}, ("alice", "s3cret", None)),
        (
            "kubernetes.io/basic-auth",
            {"username": b"alice", "password": b"s3cret", "note": b"x"},
            ("alice", "s3cret", None),
        ),
        ("Opaque", {"username": b"alice", "password": b"p:w d"}, ("alice", "p:w d", None)),
        ("", {"username": b"alice", "password": b"pw"}, ("alice", "pw", None)),  # no type: the API's Opaque
        ("Opaque", {"token": b"abc.DEF-123_~+/="}, (None, None, "abc.DEF-123_~+/=")),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": docker({"models.example": {"auth": B(b"bob:pw:with:colons").decode()}})},
            ("bob", "pw:with:colons", None),
        ),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": docker({"https://models.example/v1/": {"username": "carol", "password": "pw"}})},
            ("carol", "pw", None),
        ),
        (
            "kubernetes.io/dockerconfigjson",
            {
                ".dockerconfigjson": docker(
                    {
                        "other.example": {"auth": B(b"eve:x").decode()},
                        "models.example:443": {"auth": B(b"d:y").decode()},
                    }
                )
            },
            ("d", "y", None),
        ),
    ],
)
def test_credentials_secrets_give_credentials_bound_to_the_source(
    secret_type: str, data: dict[str, bytes], expected: tuple[str | None, str | None, str | None]
) -> None:
    read = read_secret("creds", secret_type, data, HERE)
    assert isinstance(read, Credentials), read
    assert (read.username, read.password, read.token) == expected
    assert read.origin == HERE and read.secret_type == (secret_type or "Opaque")


SA_TOKEN = {"token": b"eyJhbGciOi.stolen", "ca.crt": b"-----BEGIN CERTIFICATE-----", "namespace": b"team-a"}


@pytest.mark.parametrize(
    ("secret_type", "data"),
    [
        ("kubernetes.io/service-account-token", SA_TOKEN),
        ("kubernetes.io/service-account-token", {"token": b"eyJhbGciOi.stolen"}),
        ("kubernetes.io/tls", {"tls.crt": b"cert", "tls.key": b"key"}),
        ("bootstrap.kubernetes.io/token", {"token-id": b"abcdef", "token-secret": b"0123456789abcdef"}),
        ("kubernetes.io/dockercfg", {".dockercfg": b"{}"}),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": b"key"}),
        ("example.com/anything", {"token": b"t"}),
        ("Opaque", SA_TOKEN),  # a ServiceAccount token copied whole into an Opaque Secret
        ("Opaque", {"token": b"t", "username": b"u", "password": b"p"}),
        ("Opaque", {"username": b"u"}),
        ("Opaque", {"password": b"p", "extra": b"x"}),
        ("Opaque", {".dockerconfigjson": docker({"models.example": {"auth": B(b"a:b").decode()}})}),
        ("Opaque", {}),
    ],
)
def test_everything_but_a_credentials_secret_is_refused(secret_type: str, data: dict[str, bytes]) -> None:
    read = read_secret("deployer-token", secret_type, data, HERE)
    assert isinstance(read, Refusal)
    assert read.reason == "CredentialsRefused"
    assert "'deployer-token'" in read.message
    shown = [v for v in data.values() if len(v) > 5 and v.decode(errors="replace") in read.message]
    assert shown == []  # keys and types are named, values never


@pytest.mark.parametrize(
    ("secret_type", "data", "says"),
    [
        ("Opaque", {"token": b"abc\n"}, "control character"),  # kept byte for byte, so refused, not trimmed
        ("Opaque", {"token": b"a b"}, "spaces"),
        ("Opaque", {"token": "jeton-é".encode()}, "non-ASCII"),
        ("Opaque", {"token": b""}, "no token"),
        ("Opaque", {"username": b"alice\n", "password": b"pw"}, "control character"),
        ("Opaque", {"username": b"alice", "password": b"pw\r\n"}, "control character"),
        ("Opaque", {"username": b"al:ice", "password": b"pw"}, "':'"),
        ("Opaque", {"username": b"\xff", "password": b"pw"}, "not UTF-8"),
        ("kubernetes.io/basic-auth", {"username": b"alice"}, "no password"),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b"{"}, "invalid .dockerconfigjson"),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b"[" * 100_000}, "invalid .dockerconfigjson"),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": docker({"other.example": {}})}, "no credentials for"),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": docker({"models.example:8443": {"auth": B(b"a:b").decode()}})},
            "no credentials for models.example:443",
        ),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": docker({"models.example": {"auth": "%%"}})}, "auth"),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": docker({"models.example": {"auth": B(b"nocolon").decode()}})},
            "auth",
        ),
    ],
)
def test_malformed_credentials_are_invalid_never_repaired(secret_type: str, data: dict[str, bytes], says: str) -> None:
    read = read_secret("creds", secret_type, data, HERE)
    assert isinstance(read, Refusal) and read.reason == "InvalidCredentials", read
    assert says in read.message


def test_credentials_never_show_their_secrets_in_a_repr() -> None:
    shown = repr(Credentials(HERE, username="alice", password="hunter2")) + repr(Credentials(HERE, token="tok-9"))
    assert "hunter2" not in shown and "tok-9" not in shown


# --- the operator and the pod read the same bytes the same way ----------------------------------------------------


class _Kube:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret

    async def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.secret


def _volume(directory: Path, data: dict[str, bytes]) -> Path:
    """A Secret volume as the kubelet writes it: files in a timestamped directory, `..data` pointing at it, and
    one symbolic link per key."""
    stamped = directory / "..2026_01_01_00_00_00.000000000"
    stamped.mkdir(parents=True)
    for key, value in data.items():
        (stamped / key).write_bytes(value)
    (directory / "..data").symlink_to(stamped.name)
    for key in data:
        (directory / key).symlink_to(f"..data/{key}")
    return directory


CASES = [
    ("kubernetes.io/service-account-token", SA_TOKEN),
    ("Opaque", SA_TOKEN),
    ("Opaque", {"token": b"tok\n"}),
    ("Opaque", {"token": b"tok"}),
    ("Opaque", {"username": b"alice", "password": b"pw "}),  # a trailing space is part of the password
    ("kubernetes.io/basic-auth", {"username": b"alice", "password": b"pw\n"}),
    ("kubernetes.io/basic-auth", {"username": b"alice\n", "password": b"pw"}),  # `echo alice > username`
    ("Opaque", {"username": b"alice\r\n", "password": b"pw"}),
    (
        "kubernetes.io/dockerconfigjson",
        {".dockerconfigjson": docker({"models.example": {"auth": B(b"a:b\n").decode()}})},
    ),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": docker({"models.example": {"auth": B(b"a:b").decode()}})}),
]


@pytest.mark.parametrize(("secret_type", "data"), CASES)
def test_the_operator_and_the_pod_read_a_secret_alike(secret_type: str, data: dict[str, bytes], tmp_path: Path) -> None:
    secret = {"type": secret_type, "data": {k: B(v).decode() for k, v in data.items()}}

    def outcome(read: Any) -> object:
        try:
            return read()
        except VerificationError as exc:
            return exc.reason

    operator = outcome(lambda: asyncio.run(source_credentials(_Kube(secret), "ns", "creds", HERE)))  # type: ignore[arg-type]
    pod = outcome(lambda: mounted_credentials(_volume(tmp_path / "creds", data), secret_type, HERE))
    if isinstance(operator, Credentials) and isinstance(pod, Credentials):
        operator, pod = (operator.username, operator.password, operator.token), (pod.username, pod.password, pod.token)
    assert operator == pod


# --- where credentials may go -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://models.example/m/model.bin", True),
        ("https://MODELS.example:443/m.sig", True),
        ("https://user@models.example/m", True),  # the origin, whatever the path or userinfo
        ("https://models.example:8443/m", False),
        ("http://models.example/m", False),
        ("https://models.example.evil.example/m", False),
        ("https://evil.example/models.example/m", False),
        ("https://evil.example/?u=https://models.example/", False),
        ("oci://models.example/m@sha256:" + "a" * 64, False),
        ("file:///models/m", False),
        ("https://models.example:99999/m", False),
        ("not a url", False),
    ],
)
def test_credentials_go_only_to_their_own_origin(url: str, allowed: bool) -> None:
    assert may_carry(HERE, url) is allowed
    creds = Credentials(HERE, username="alice", password="pw")
    assert bool(authorization_for(creds, url)) is allowed
    assert may_carry(None, url) is False


@pytest.mark.parametrize(
    ("uri", "plain", "origin"),
    [
        ("https://models.example/team/m/", (), HERE),
        ("https://models.example:8443/m", (), Origin("https", "models.example", 8443)),
        ("oci://registry.example/team/m@sha256:" + "a" * 64, (), Origin("https", "registry.example", 443)),
        ("oci://127.0.0.1:5000/m@sha256:" + "a" * 64, ("127.0.0.1:5000",), Origin("http", "127.0.0.1", 5000)),
        ("file:///models/m", (), None),
    ],
)
def test_credentials_belong_to_the_sources_origin(uri: str, plain: tuple[str, ...], origin: Origin | None) -> None:
    assert source_origin(uri, replace(_settings(), plain_http_registries=plain)) == origin


def test_a_bearer_token_and_basic_credentials_make_their_headers() -> None:
    assert authorization_for(Credentials(HERE, token="t0k"), "https://models.example/x") == {
        "Authorization": "Bearer t0k"
    }
    assert authorization_for(Credentials(HERE, username="a", password="b"), "https://models.example/x") == {
        "Authorization": "Basic YTpi"
    }
    assert authorization_for(None, "https://models.example/x") == {}
    assert origin_of("https://models.example") == HERE


# --- every request path follows the rule (loopback servers: another port is another origin) -----------------------


@dataclass
class Recorder:
    """A plain-HTTP loopback server (the client allows http:// to loopback) recording what it was sent."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"document"
    seen: list[dict[str, str]] = field(default_factory=list)
    tls: tuple[LocalCA, Path] | None = None  # serve https with a certificate of this CA (written there)

    def start(self) -> Recorder:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                self.send_response(outer.status)
                for k, v in outer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            ca, directory = self.tls
            port = self.server.server_address[1]
            cert, key = ca.write(directory, f"server-{port}", ca.issue("server", hosts=("127.0.0.1",)))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[list[Recorder]]:
    started: list[Recorder] = []
    yield started
    for server in started:
        server.stop()


def _start(servers: list[Recorder], **kwargs: Any) -> Recorder:
    server = Recorder(**kwargs).start()
    servers.append(server)
    return server


@pytest.fixture
def tls(tmp_path: Path) -> tuple[LocalCA, Path]:
    return LocalCA.create("credentials-test-ca"), tmp_path


def _settings(ca: LocalCA | None = None) -> SourceSettings:
    context = ssl.create_default_context()
    if ca is not None:
        context.load_verify_locations(cadata=ca.pem.decode())
    return SourceSettings(HttpClient(context, timeout=5))


def _authorized(server: Recorder) -> list[str]:
    return [s["path"] for s in server.seen if "authorization" in s]


def test_a_document_on_another_origin_is_fetched_without_the_sources_credentials(
    servers: list[Recorder], tls: tuple[LocalCA, Path]
) -> None:
    source, third = _start(servers, tls=tls), _start(servers, tls=tls)
    creds = Credentials(source_origin(f"{source.url}/models/m/", _settings()), username="alice", password="pw")
    assert fetch_document(f"{third.url}/m.sig", _settings(tls[0]), creds, "signature") == b"document"
    assert third.seen and _authorized(third) == []
    fetch_document(f"{source.url}/m.sig", _settings(tls[0]), creds, "signature")
    assert _authorized(source) == ["/m.sig"]


def test_a_redirect_to_another_origin_and_back_carries_them_only_at_home(
    servers: list[Recorder], tls: tuple[LocalCA, Path]
) -> None:
    source = _start(servers, tls=tls)
    third = _start(servers, tls=tls, status=302, headers={"Location": f"{source.url}/back"})
    creds = Credentials(source_origin(source.url, _settings()), token="t0k")
    fetch_document(f"{third.url}/m.sig", _settings(tls[0]), creds, "signature")
    assert _authorized(third) == [] and _authorized(source) == ["/back"]
    assert source.seen[0]["authorization"] == "Bearer t0k"


def test_an_oci_bundle_on_another_registry_gets_none_of_the_sources_registry_credentials(
    servers: list[Recorder],
) -> None:
    other = _start(servers, status=404)
    home = source_origin("oci://registry.example/m@sha256:" + "a" * 64, _settings())
    registry = Registry(_settings().http, other.host, Credentials(home, username="a", password="b"), plain_http=True)
    with pytest.raises(Retry):
        registry.manifest(Reference.parse(f"oci://{other.host}/m-sig@sha256:{'b' * 64}"))
    assert other.seen and _authorized(other) == []


def test_a_token_realm_on_another_origin_is_refused_not_asked(servers: list[Recorder]) -> None:
    realm = _start(servers, body=b'{"token": "minted"}')
    challenge = f'Bearer realm="{realm.url}/token",service="registry",scope="repository:m:pull"'
    registry = _start(servers, status=401, headers={"WWW-Authenticate": challenge})
    for creds in (None, Credentials(source_origin(registry.url, _settings()), username="alice", password="pw")):
        reg = Registry(_settings().http, registry.host, creds, plain_http=True)
        with pytest.raises(VerificationError) as refused:
            reg.manifest(Reference.parse(f"oci://{registry.host}/m@sha256:{'a' * 64}"))
        assert refused.value.reason == "TokenRealmNotAllowed"
        assert realm.host.split(":")[0] in refused.value.message
    assert realm.seen == []


def test_a_token_realm_on_the_registrys_own_origin_is_asked_with_its_credentials(servers: list[Recorder]) -> None:
    registry = _start(servers, status=401)
    registry.headers = {"WWW-Authenticate": f'Bearer realm="{registry.url}/token",service="registry"'}
    creds = Credentials(source_origin(registry.url, _settings()), username="alice", password="pw")
    reg = Registry(_settings().http, registry.host, creds, plain_http=True)
    with pytest.raises(Retry):  # every answer is 401 here; what matters is who was asked, with what
        reg.manifest(Reference.parse(f"oci://{registry.host}/m@sha256:{'a' * 64}"))
    token_requests = [s for s in registry.seen if s["path"].startswith("/token")]
    assert token_requests and token_requests[0]["authorization"] == "Basic YWxpY2U6cHc="


def test_the_pods_fetch_through_the_model_cache_never_carries_the_sources_credentials(
    servers: list[Recorder], tmp_path: Path
) -> None:
    cache = _start(servers, body=b"weights")
    creds = Credentials(source_origin("https://models.example/m/", _settings()), username="alice", password="pw")
    manifest = SignedManifest("m", Serialization(), (Resource("model.bin", ""),))
    fetch_model(f"{cache.url}/m/", manifest, tmp_path / "into", _settings(), creds)
    assert cache.seen and _authorized(cache) == []


@pytest.mark.parametrize("secret_type", ["kubernetes.io/service-account-token", None])
def test_the_pods_fetch_refuses_a_service_account_token_volume(
    secret_type: str | None, servers: list[Recorder], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model cache's `modelguard verify`: told the Secret's type, or not (then Opaque, whose exact keys a
    ServiceAccount token Secret does not have), it refuses before asking the source anything."""
    from modelguard.cli.main import main as cli
    from tests.harness.models import KeyPair, sign, write_model

    source = _start(servers)
    key = KeyPair.generate()
    model = write_model(tmp_path / "model", {"model.bin": 1000})
    (tmp_path / "model.sig").write_bytes(sign(model, key))
    (tmp_path / "publisher.pem").write_bytes(key.public_pem)
    volume = _volume(tmp_path / "credentials", SA_TOKEN)
    args = ["verify", "--key", str(tmp_path / "publisher.pem"), "--signature", str(tmp_path / "model.sig"), "--quiet"]
    args += ["--source", f"{source.url}/m/", "--fetch-into", str(tmp_path / "into"), "--credentials", str(volume)]
    args += ["--credentials-type", secret_type] if secret_type else []
    assert cli([*args, str(tmp_path / "into")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("not verified: CredentialsRefused: ") and "stolen" not in out
    assert source.seen == []

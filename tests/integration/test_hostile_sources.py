"""Every URL a tenant can write is a source (issue 13, class 3): redirects must land under the allowed
prefixes, and credentials for one origin never reach another, through a redirect or an authentication
challenge naming another host. Hostile servers run on loopback; the HTTP client and the registry client are
the operator's own."""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelguard.adapters.http import HttpClient
from modelguard.adapters.oci import Credentials, Reference, Registry
from modelguard.adapters.verification_service import ssl_context
from modelguard.api.aimodel import AIModelSpec
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.model_checks import ModelFacts, sources_allowed
from tests.harness.certs import LocalCA
from tests.harness.controlplane import free_port
from tests.harness.samples import ai_model, trust_policy


@dataclass
class Hostile:
    """An HTTPS server on loopback that answers every request the same way and records what it saw."""

    ca: LocalCA
    workdir: Path
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"signature bytes"
    seen: list[dict[str, str]] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> Hostile:
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

        cert, key = self.ca.write(self.workdir, f"hostile-{self.port}", self.ca.issue("h", hosts=("127.0.0.1",)))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    ca = LocalCA.create("hostile-test-ca")
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    return ca


def client(tmp_path: Path, allowed: tuple[str, ...] | None) -> HttpClient:
    return HttpClient(ssl_context(tmp_path / "ca.crt"), timeout=5, allowed_prefixes=allowed)


def test_a_redirect_out_of_the_allowed_prefixes_is_refused(ca: LocalCA, tmp_path: Path) -> None:
    elsewhere = Hostile(ca, tmp_path, body=b"attacker's signature")
    allowed = Hostile(ca, tmp_path, status=302, headers={"Location": f"{elsewhere.url}/evil.sig"})
    with elsewhere, allowed:
        policy = (f"{allowed.url}/models/",)
        with pytest.raises(VerificationError) as refused:
            client(tmp_path, policy).open(f"{allowed.url}/models/m.sig")
        assert refused.value.reason == "RedirectNotAllowed"
        assert elsewhere.seen == []  # not even asked
        # under a policy that allows both, the same redirect is followed
        with client(tmp_path, (*policy, f"{elsewhere.url}/")).open(f"{allowed.url}/models/m.sig") as response:
            assert response.read() == b"attacker's signature"


def test_a_redirect_to_another_origin_never_carries_the_credentials(ca: LocalCA, tmp_path: Path) -> None:
    elsewhere = Hostile(ca, tmp_path)
    origin = Hostile(ca, tmp_path, status=307, headers={"Location": f"{elsewhere.url}/blob"})
    with elsewhere, origin:
        allowed = (f"{origin.url}/", f"{elsewhere.url}/")
        with client(tmp_path, allowed).open(f"{origin.url}/m", {"Authorization": "Basic c2VjcmV0"}):
            pass
        assert origin.seen[0]["authorization"] == "Basic c2VjcmV0"
        assert "authorization" not in elsewhere.seen[0]


def test_a_token_challenge_naming_another_host_gets_no_credentials(ca: LocalCA, tmp_path: Path) -> None:
    realm = Hostile(ca, tmp_path, body=b'{"token": "anonymous"}')
    challenge = f'Bearer realm="{realm.url}/token",service="registry",scope="repository:m:pull"'
    registry = Hostile(ca, tmp_path, status=401, headers={"WWW-Authenticate": challenge})
    with realm, registry:
        host = f"127.0.0.1:{registry.port}"
        creds = Credentials(username="publisher", password="registry-password")
        reg = Registry(client(tmp_path, None), host, creds)
        ref = Reference.parse(f"oci://{host}/m@sha256:{'a' * 64}")
        with pytest.raises(Retry):
            reg.manifest(ref)
        assert realm.seen and "authorization" not in realm.seen[0]  # asked anonymously
        assert all(s.get("authorization", "").startswith(("Basic", "Bearer anonymous")) for s in registry.seen)


def test_an_sbom_outside_the_allowed_sources_is_refused_naming_the_field() -> None:
    spec = AIModelSpec.model_validate(
        ai_model("m", sbom={"uri": "https://attacker.example/sbom.json", "digest": "sha256:" + "b" * 64})["spec"]
    )
    policy = TrustPolicySpec.model_validate(trust_policy("p", allowedSources=["file:///models/"])["spec"])
    problem = sources_allowed(ModelFacts("ns", {}, spec, policy))
    assert problem is not None and problem.reason == "SourceNotAllowed"
    assert problem.message.startswith("spec.sbom.uri: https://attacker.example/sbom.json")

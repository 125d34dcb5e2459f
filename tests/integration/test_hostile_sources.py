"""Every URL a tenant can write is a source (issue 13, class 3): redirects must land under the allowed
prefixes, and credentials for one origin never reach another, through a redirect or an authentication
challenge naming another host. Hostile servers run on loopback; the HTTP client and the registry client are
the operator's own.

Issue 27 (items 1 and 2) plays a tenant who may write only modelguard.io objects in its namespace and runs
servers: it names a ServiceAccount token Secret it may not read as its model's credentials, and points the
signature bundle or the registry's token realm at another origin it controls. Those tests run the operator
against a real API server; servers on 127.0.0.1 with different ports are different origins."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelguard.adapters.http import HttpClient
from modelguard.adapters.oci import Credentials, Reference
from modelguard.adapters.sources import SourceSettings, source_origin
from modelguard.adapters.sources.oci import registry as registry_client
from modelguard.adapters.verification_service import ssl_context
from modelguard.api.aimodel import AIModelSpec
from modelguard.api.trustpolicy import TrustPolicySpec
from modelguard.domain.errors import VerificationError
from modelguard.domain.model_checks import ModelFacts, sources_allowed
from tests.harness.certs import LocalCA
from tests.harness.client import KubeTestClient, condition, eventually, wait_for_condition
from tests.harness.controlplane import ControlPlane, free_port
from tests.harness.models import KeyPair
from tests.harness.operator import OperatorProcess
from tests.harness.publish import model, policy
from tests.harness.samples import ai_model, trust_policy

KEY = KeyPair.generate()


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


def test_a_token_challenge_naming_another_host_is_refused_not_asked(ca: LocalCA, tmp_path: Path) -> None:
    realm = Hostile(ca, tmp_path, body=b'{"token": "anonymous"}')
    challenge = f'Bearer realm="{realm.url}/token",service="registry",scope="repository:m:pull"'
    registry = Hostile(ca, tmp_path, status=401, headers={"WWW-Authenticate": challenge})
    with realm, registry:
        host = f"127.0.0.1:{registry.port}"
        settings = SourceSettings(client(tmp_path, None))
        uri = f"oci://{host}/m@sha256:{'a' * 64}"
        creds = Credentials(source_origin(uri, settings), username="publisher", password="registry-password")
        ref = Reference.parse(uri)
        reg = registry_client(ref, settings, creds)
        with pytest.raises(VerificationError) as refused:
            reg.manifest(ref)
        assert refused.value.reason == "TokenRealmNotAllowed"
        assert realm.seen == []  # not even asked anonymously: the request is the server's choice
        assert [s["authorization"] for s in registry.seen] == ["Basic cHVibGlzaGVyOnJlZ2lzdHJ5LXBhc3N3b3Jk"]


def test_an_sbom_outside_the_allowed_sources_is_refused_naming_the_field() -> None:
    spec = AIModelSpec.model_validate(
        ai_model("m", sbom={"uri": "https://attacker.example/sbom.json", "digest": "sha256:" + "b" * 64})["spec"]
    )
    policy = TrustPolicySpec.model_validate(trust_policy("p", allowedSources=["file:///models/"])["spec"])
    problem = sources_allowed(ModelFacts("ns", {}, spec, policy))
    assert problem is not None and problem.reason == "SourceNotAllowed"
    assert problem.message.startswith("spec.sbom.uri: https://attacker.example/sbom.json")


def _secrets(api: KubeTestClient, namespace: str) -> dict[str, tuple[str, str]]:
    """Every Secret of the namespace: its type and resource version (anything written changes the latter)."""
    return {
        s.metadata.name: (s.type, s.metadata.resource_version) for s in api.core.list_namespaced_secret(namespace).items
    }


def _said_anywhere(api: KubeTestClient, namespace: str, name: str, text: str) -> bool:
    events = api.core.list_namespaced_event(namespace).items
    return text in json.dumps(api.get("aimodels", namespace, name)) or any(text in (e.message or "") for e in events)


def test_a_service_account_token_secret_is_never_sent_as_credentials(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """Issue 27 item 1: the namespace holds the token Secret of a ServiceAccount bound to `edit`, which the tenant
    may not read; its model names that Secret and a source under an allowed prefix on the tenant's server. The
    server never sees the token (nor any Authorization), the model is not Verified (CredentialsRefused), and
    nothing in the namespace changed."""
    cluster.kubectl("create", "serviceaccount", "deployer", "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", "deployer-edit", "--clusterrole=edit", f"--serviceaccount={namespace}:deployer",
        "-n", namespace,
    )  # fmt: skip
    api.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "deployer-token", "annotations": {"kubernetes.io/service-account.name": "deployer"}},
            "type": "kubernetes.io/service-account-token",
        },
    )
    encoded = eventually(
        lambda: (api.core.read_namespaced_secret("deployer-token", namespace).data or {}).get("token"),
        what="the token controller to fill the ServiceAccount's token Secret",
    )
    token = base64.b64decode(encoded).decode()
    before = _secrets(api, namespace)
    trust = f"p-{namespace}"
    with Hostile(cluster.ca, tmp_path) as server:  # answers 200 "signature bytes" to everything
        api.create("trustpolicies", None, policy(trust, namespace, KEY, [f"{server.url}/"]))
        try:
            body = model("m", f"{server.url}/models/m/", f"{server.url}/models/m.sig", trust)
            body["spec"]["source"]["credentialsSecretRef"] = {"name": "deployer-token"}
            api.create("aimodels", namespace, body)
            shown = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", timeout=60)
            assert all(token not in value for seen in server.seen for value in seen.values())
            assert [s["path"] for s in server.seen if "authorization" in s] == []
            verified = condition(shown, "Verified") or {}
            assert verified["reason"] == "CredentialsRefused", verified
            assert "kubernetes.io/service-account-token" in verified["message"]
            assert not _said_anywhere(api, namespace, "m", token)
            assert _secrets(api, namespace) == before
        finally:
            api.delete("trustpolicies", None, trust)


@pytest.mark.parametrize("source", ["https", "oci"])
def test_a_sources_credentials_never_reach_the_signature_bundles_origin(
    source: str, api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """Issue 27 item 2: the credentials of an https server or a registry belong to the source's origin; a
    signature bundle on another origin the tenant runs (allowed by the policy, so only the origin rule stands
    between them) is fetched without them."""
    api.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "source-creds"},
            "type": "Opaque",
            "stringData": {"username": "publisher", "password": "source-password"},
        },
    )
    before = _secrets(api, namespace)
    trust = f"p-{namespace}"
    with Hostile(cluster.ca, tmp_path, status=404) as origin, Hostile(cluster.ca, tmp_path) as third:
        host = f"127.0.0.1:{origin.port}"
        uri = f"{origin.url}/models/m/" if source == "https" else f"oci://{host}/models/m@sha256:{'a' * 64}"
        allowed = [f"{origin.url}/" if source == "https" else f"oci://{host}/", f"{third.url}/"]
        api.create("trustpolicies", None, policy(trust, namespace, KEY, allowed))
        try:
            body = model("m", uri, f"{third.url}/m.sig", trust)
            body["spec"]["source"]["credentialsSecretRef"] = {"name": "source-creds"}
            api.create("aimodels", namespace, body)
            shown = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", timeout=60)
            assert third.seen, "the bundle was never fetched"
            assert [s for s in third.seen if "authorization" in s] == []
            assert (condition(shown, "Verified") or {})["reason"] == "MalformedSignature"  # it was fetched, bare
            assert not _said_anywhere(api, namespace, "m", "source-password")
            assert _secrets(api, namespace) == before
        finally:
            api.delete("trustpolicies", None, trust)


def test_a_token_realm_on_another_origin_is_never_asked(
    api: KubeTestClient, cluster: ControlPlane, operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """Issue 27 item 2: a registry the tenant runs answers 401 with a Bearer challenge whose realm is another
    origin (allowed by the policy, too). The operator does not make that request, credentials or not: the
    model fails closed (TokenRealmNotAllowed) and the realm's server sees nothing."""
    with Hostile(cluster.ca, tmp_path, body=b'{"token": "minted"}') as realm:
        challenge = f'Bearer realm="{realm.url}/token",service="registry",scope="repository:models/m:pull"'
        with Hostile(cluster.ca, tmp_path, status=401, headers={"WWW-Authenticate": challenge}) as registry:
            host = f"127.0.0.1:{registry.port}"
            trust = f"p-{namespace}"
            api.create("trustpolicies", None, policy(trust, namespace, KEY, [f"oci://{host}/", f"{realm.url}/"]))
            try:
                before = _secrets(api, namespace)
                uri, bundle = (
                    f"oci://{host}/models/{repo}@sha256:{d * 64}" for repo, d in (("m", "a"), ("m-sig", "b"))
                )
                api.create("aimodels", namespace, model("m", uri, bundle, trust))
                shown = wait_for_condition(api, "aimodels", namespace, "m", "Verified", "False", timeout=60)
                assert registry.seen, "the registry was never asked"
                assert realm.seen == []
                verified = condition(shown, "Verified") or {}
                assert verified["reason"] == "TokenRealmNotAllowed", verified
                assert _secrets(api, namespace) == before
            finally:
                api.delete("trustpolicies", None, trust)

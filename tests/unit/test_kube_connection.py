"""The operator's own API client (adapters/kube.py, adapters/kube_connection.py): credentials read from a
kubeconfig or a service account, sent over TLS to a loopback server that demands them, errors typed without
bodies, and the operator process never loading the official client (issue 18: ~45 MiB of resident memory)."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelguard.adapters import kube_connection
from modelguard.adapters.kube import Kube, KubeError
from modelguard.adapters.kube_connection import Connection, NoCredentials, from_kubeconfig, in_cluster
from modelguard.api.kinds import AIMODELS
from tests.harness.certs import LocalCA


@dataclass
class ApiServer:
    """A loopback HTTPS server that requires a client certificate of `ca` and records what it received."""

    url: str
    ca: LocalCA
    seen: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    ca = LocalCA.create("kube-test-ca")
    cert, key = ca.write(tmp_path, "server", ca.issue("127.0.0.1", hosts=("127.0.0.1",)))
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    seen: list[dict[str, object]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(body) if body else None,
                    "client": dict(x[0] for x in peer["subject"])["commonName"] if peer else None,
                }
            )
            busy = self.path.startswith("/busy") and sum(1 for s in seen if s["path"] == self.path) == 1
            if busy:  # what the API server answers while a new resource's storage initialises
                status, payload = 429, {"kind": "Status", "reason": "TooManyRequests", "message": "initializing"}
            elif self.path.startswith("/missing"):
                status, payload = 404, {"kind": "Status", "reason": "NotFound", "message": 'aimodels "x" not found'}
            else:
                status, payload = 200, {"kind": "Thing", "echo": self.path}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if busy:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_POST = do_DELETE = _answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ApiServer(f"https://127.0.0.1:{server.server_address[1]}", ca, seen)
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, cluster: dict[str, object], user: dict[str, object]) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "here",
                "contexts": [
                    {"name": "other", "context": {"cluster": "x", "user": "x"}},
                    {"name": "here", "context": {"cluster": "c", "user": "u"}},
                ],
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
            }
        )
    )
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_kubeconfig_with_embedded_certificates_authenticates_over_verified_tls(api: ApiServer, tmp_path: Path) -> None:
    cert, key = api.ca.issue("alice", client=True)
    config = kubeconfig(
        tmp_path / "config",
        {"server": api.url, "certificate-authority-data": b64(api.ca.pem)},
        {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
    )
    kube = Kube(from_kubeconfig(config))
    assert kube.call("GET", "/api/v1/namespaces", query=[("labelSelector", "a=b c")]) == {
        "kind": "Thing",
        "echo": "/api/v1/namespaces?labelSelector=a%3Db+c",
    }
    assert api.seen[-1]["client"] == "alice" and api.seen[-1]["authorization"] is None
    assert not list(tmp_path.glob("modelguard-kube-*")), "the PEM data written for the ssl module is removed"


def test_relative_paths_token_files_and_json_bodies(api: ApiServer, tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    api.ca.write(tmp_path / "conf", "client", api.ca.issue("bob", client=True))
    (tmp_path / "conf" / "ca.pem").write_bytes(api.ca.pem)
    (tmp_path / "conf" / "token").write_text("s3cret\n")
    config = kubeconfig(
        tmp_path / "conf" / "config",
        {"server": api.url + "/", "certificate-authority": "ca.pem"},
        {"client-certificate": "client.crt", "client-key": "client.key", "tokenFile": "token"},
    )
    kube = Kube(from_kubeconfig(config))

    async def apply() -> dict[str, object]:
        return await kube.merge_patch(AIMODELS, "ns", "m", {"metadata": {"labels": {"a": "b"}}})

    assert asyncio.run(apply())["kind"] == "Thing"
    request = api.seen[-1]
    assert request["method"] == "PATCH" and request["authorization"] == "Bearer s3cret"
    assert request["content_type"] == "application/merge-patch+json"
    assert request["body"] == {"metadata": {"labels": {"a": "b"}}} and request["client"] == "bob"


def test_api_errors_are_typed_and_unreachable_servers_are_status_zero(api: ApiServer, tmp_path: Path) -> None:
    cert, key = api.ca.issue("carol", client=True)
    conn = Connection(
        server=api.url, ca_data=api.ca.pem.decode(), certificate_data=cert.decode(), private_key_data=key.decode()
    )
    with pytest.raises(KubeError) as missing:
        Kube(conn).call("GET", "/missing/x")
    assert (missing.value.status, missing.value.reason, missing.value.not_found) == (404, "NotFound", True)
    assert missing.value.message == 'aimodels "x" not found'
    with pytest.raises(KubeError) as unreachable:
        Kube(Connection(server="https://127.0.0.1:1", ca_data=api.ca.pem.decode())).call("GET", "/api")
    assert (unreachable.value.status, unreachable.value.reason) == (0, "Unreachable")


def test_a_server_certificate_of_another_ca_is_refused(api: ApiServer) -> None:
    other = LocalCA.create("another-ca")
    cert, key = api.ca.issue("dave", client=True)
    conn = Connection(
        server=api.url, ca_data=other.pem.decode(), certificate_data=cert.decode(), private_key_data=key.decode()
    )
    with pytest.raises(KubeError) as refused:
        Kube(conn).call("GET", "/api")
    assert refused.value.status == 0 and not api.seen


def test_in_cluster_reads_the_service_account_and_rereads_a_rotated_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("first")
    (tmp_path / "ca.crt").write_text("pem")
    conn = in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert conn.server == "https://10.96.0.1:443" and conn.ca_path == str(tmp_path / "ca.crt")
    assert conn.bearer_token() == "first"
    (tmp_path / "token").write_text("second")
    assert conn.bearer_token() == "first"  # read at most once a minute
    monkeypatch.setattr(kube_connection, "TOKEN_REREAD_SECONDS", 0.0)
    assert conn.bearer_token() == "second"
    v6 = in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, tmp_path)
    assert v6.server == "https://[fd00::1]:6443"
    with pytest.raises(NoCredentials):
        in_cluster({}, tmp_path)


@pytest.mark.parametrize(
    ("user", "context", "expected"),
    [
        ({"exec": {"command": "aws"}}, None, "exec plugin"),
        ({"auth-provider": {"name": "gcp"}}, None, "exec plugin or auth provider"),
        ({"token": "t"}, "absent", "no context named 'absent'"),
    ],
)
def test_kubeconfigs_it_cannot_use_say_why(
    tmp_path: Path, user: dict[str, object], context: str | None, expected: str
) -> None:
    config = kubeconfig(tmp_path / "config", {"server": "https://127.0.0.1:1"}, user)
    with pytest.raises(NoCredentials, match=expected):
        from_kubeconfig(config, context)


def test_the_operator_process_never_loads_the_official_client() -> None:
    probe = (
        "import sys\n"
        "from modelguard.cli.run import without_official_client\n"
        "without_official_client()\n"
        "import kopf\n"
        "from modelguard.handlers.registry import build_registry\n"
        "from modelguard.engine.runtime import Runtime\n"
        "from modelguard.adapters.kube import Kube\n"
        "print(sorted(k for k in sys.modules if k.startswith('kubernetes') and sys.modules[k] is not None))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_read_the_api_server_asks_to_retry_later_is_retried(api: ApiServer) -> None:
    """429 with Retry-After (a new CRD's storage initialising) is retried for reads, as the official client did;
    `modelguard report` right after installing failed without it."""
    cert, key = api.ca.issue("erin", client=True)
    conn = Connection(
        server=api.url, ca_data=api.ca.pem.decode(), certificate_data=cert.decode(), private_key_data=key.decode()
    )
    assert Kube(conn).call("GET", "/busy/scanreports") == {"kind": "Thing", "echo": "/busy/scanreports"}
    assert [s["path"] for s in api.seen] == ["/busy/scanreports", "/busy/scanreports"]

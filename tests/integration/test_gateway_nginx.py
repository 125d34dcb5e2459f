"""The generated gateway configuration running in a real nginx (Debian's), in front of a real upstream."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelguard.builders.gateway import GatewayConfig, keys_map, nginx_conf
from tests.harness.controlplane import free_port

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef0"}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class _Echo(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "path": self.path,
                "client": self.headers.get("X-ModelGuard-Client"),
                "authorization": self.headers.get("Authorization"),
                "x_api_key": self.headers.get("X-API-Key"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Gateway:
    url: str
    status_url: str
    log: Path


def _start(tmp: Path, cfg: GatewayConfig, keys: dict[str, str] | None) -> Iterator[Gateway]:
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o777)
    temp = tmp / "t"
    temp.mkdir()
    temp.chmod(0o777)
    if keys is not None:
        Path(cfg.keys_file).write_text(keys_map(keys))
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(cfg))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    log = tmp / "access.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{cfg.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Gateway(url, f"http://127.0.0.1:{cfg.status_port}", log)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(tmp_path: Path, upstream: int) -> Iterator[Gateway]:
    cfg = GatewayConfig(
        upstream_port=upstream,
        authenticated=True,
        requests_per_second=1,
        burst=3,
        max_body_size="1k",
        listen="127.0.0.1",
        port=free_port(),
        status_port=free_port(),
        keys_file=str(tmp_path / "gw" / "clients.map"),
        temp_dir=str(tmp_path / "gw" / "t"),
    )
    yield from _start(tmp_path / "gw", cfg, KEYS)


def call(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_no_key_and_wrong_key_are_refused(gateway: Gateway) -> None:
    assert call(f"{gateway.url}/v1/predict")[0] == 401
    assert call(f"{gateway.url}/v1/predict", {"Authorization": "Bearer not-a-valid-key-000000"})[0] == 401
    assert call(f"{gateway.url}/v1/predict", {"X-API-Key": "wrong-key-000000000000"})[0] == 401


def test_good_key_is_proxied_with_the_client_id_and_without_the_key(gateway: Gateway) -> None:
    status, body = call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})
    assert status == 200
    assert body == {"path": "/v1/predict", "client": "alice", "authorization": None, "x_api_key": None}
    status, body = call(f"{gateway.url}/v1/predict", {"X-API-Key": KEYS["bob"]})
    assert (status, body["client"]) == (200, "bob")


def test_each_client_is_rate_limited_on_its_own(gateway: Gateway) -> None:
    bob = {"Authorization": f"Bearer {KEYS['bob']}"}
    statuses = [call(f"{gateway.url}/v1/predict", bob)[0] for _ in range(10)]
    assert statuses[:4] == [200, 200, 200, 200]  # 1 + burst 3, no delay
    assert 429 in statuses[4:]
    assert call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})[0] == 200


def test_oversized_body_is_refused(gateway: Gateway) -> None:
    alice = {"Authorization": f"Bearer {KEYS['alice']}", "Content-Type": "application/json"}
    assert call(f"{gateway.url}/v1/predict", alice, b"x" * 512)[0] == 200
    assert call(f"{gateway.url}/v1/predict", alice, b"x" * 4096)[0] == 413


def test_access_log_names_clients_never_keys(gateway: Gateway) -> None:
    call(f"{gateway.url}/v1/predict", {"Authorization": f"Bearer {KEYS['alice']}"})
    call(f"{gateway.url}/v1/predict", {"Authorization": "Bearer wrong-key-0000000000000000"})
    time.sleep(0.2)
    lines = [json.loads(line) for line in gateway.log.read_text().splitlines() if line.startswith("{")]
    assert {"client": "alice", "status": 200}.items() <= next(r for r in lines if r["client"] == "alice").items()
    assert any(r["status"] == 401 and r["client"] == "" for r in lines)
    text = gateway.log.read_text()
    assert KEYS["alice"] not in text and "wrong-key" not in text


def test_status_port_serves_nginx_status(gateway: Gateway) -> None:
    with urllib.request.urlopen(f"{gateway.status_url}/status", timeout=5) as response:
        assert b"Active connections" in response.read()


def test_without_authentication_limits_by_address(tmp_path: Path, upstream: int) -> None:
    cfg = GatewayConfig(
        upstream_port=upstream,
        authenticated=False,
        requests_per_second=1,
        burst=1,
        listen="127.0.0.1",
        port=free_port(),
        status_port=free_port(),
        temp_dir=str(tmp_path / "open" / "t"),
    )
    for gw in _start(tmp_path / "open", cfg, None):
        assert call(f"{gw.url}/x")[0] == 200
        assert 429 in [call(f"{gw.url}/x")[0] for _ in range(5)]

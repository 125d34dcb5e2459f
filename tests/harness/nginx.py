"""Run a gateway configuration in Debian's nginx on loopback (tests and the demo)."""

from __future__ import annotations

import contextlib
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

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class RunningGateway:
    url: str
    status_url: str
    log: Path


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """An upstream that answers with what it saw (path, client id, credentials forwarded)."""

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


@contextlib.contextmanager
def echo_upstream(port: int) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def run_nginx(
    workdir: Path, conf: str, port: int, status_port: int, keys: str | None = None, keys_file: Path | None = None
) -> Iterator[RunningGateway]:
    """Start nginx with `conf` (paths already pointing into workdir) and stop it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o777)  # nginx workers run as nobody when the master is root
    (workdir / "t").mkdir(exist_ok=True)
    (workdir / "t").chmod(0o777)
    if keys is not None and keys_file is not None:
        keys_file.write_text(keys)
    path = workdir / "nginx.conf"
    path.write_text(conf)
    check = subprocess.run(
        [NGINX, "-t", "-p", str(workdir), "-c", str(path)], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx rejected the configuration: {check.stderr}")
    log = workdir / "access.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(path), "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield RunningGateway(url, f"http://127.0.0.1:{status_port}", log)
    finally:
        proc.terminate()
        proc.wait(10)


def call(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}

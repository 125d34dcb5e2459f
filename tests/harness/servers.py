"""Real servers on loopback for tests and the demo: an HTTPS file server and an OCI registry
(Debian's docker-registry, distribution 2.8, with TLS, htpasswd auth and deletes enabled)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import select
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import bcrypt

from tests.harness.certs import LocalCA
from tests.harness.controlplane import ControlPlaneError, Process, free_port


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class HttpsFileServer:
    """Serves `root` over HTTPS on 127.0.0.1 with a certificate from the test CA."""

    root: Path
    ca: LocalCA
    workdir: Path
    port: int = field(default_factory=free_port)

    def start(self) -> HttpsFileServer:
        self.root.mkdir(parents=True, exist_ok=True)
        cert, key = self.ca.write(self.workdir, "https", self.ca.issue("files", hosts=("127.0.0.1", "localhost")))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        handler = partial(_QuietHandler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Registry:
    """docker-registry (distribution) on 127.0.0.1 with TLS and one htpasswd user."""

    workdir: Path
    ca: LocalCA
    username: str = "publisher"
    password: str = "s3cret-registry-password"
    port: int = field(default_factory=free_port)
    process: Process | None = None

    def start(self) -> Registry:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise ControlPlaneError("docker-registry is not installed: run `make system-deps`")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = self.ca.write(self.workdir, "registry", self.ca.issue("registry", hosts=("127.0.0.1", "localhost")))
        htpasswd = self.workdir / "htpasswd"
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
        htpasswd.write_text(f"{self.username}:{hashed}\n")
        config = self.workdir / "config.yml"
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {
                        "filesystem": {"rootdirectory": str(self.workdir / "data")},
                        "delete": {"enabled": True},
                    },
                    "http": {"addr": f"127.0.0.1:{self.port}", "tls": {"certificate": str(cert), "key": str(key)}},
                    "auth": {"htpasswd": {"realm": "modelguard-test", "path": str(htpasswd)}},
                }
            )
        )
        self.process = Process("docker-registry", [binary, "serve", str(config)], self.workdir / "registry.log")
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise ControlPlaneError(f"docker-registry exited:\n{self.process.tail()}")
            try:
                self.request("GET", "/v2/")
                return self
            except OSError:
                time.sleep(0.1)
        raise ControlPlaneError(f"docker-registry not ready:\n{self.process.tail()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca.pem.decode())

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        url = path if path.startswith("https://") else f"https://{self.host}{path}"
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"Basic {auth}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, context=self._context(), timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, status
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        status, _, body = self.request(
            "PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"}
        )
        assert status == 201, (status, body)
        return digest

    def push_model(
        self,
        repo: str,
        files: dict[str, bytes],
        *,
        artifact_type: str = "application/vnd.cncf.model.manifest.v1+json",
        layer_type: str = "application/vnd.cncf.model.weight.v1.raw",
    ) -> str:
        """Push files as one artifact (ORAS / ModelPack layout: one layer per file, titled); returns its digest."""
        config = json.dumps({"modelguard": "test"}).encode()
        config_digest = self.push_blob(repo, config)
        layers = []
        for name, data in sorted(files.items()):
            layers.append(
                {
                    "mediaType": layer_type,
                    "digest": self.push_blob(repo, data),
                    "size": len(data),
                    "annotations": {"org.opencontainers.image.title": name},
                }
            )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": artifact_type,
                "config": {
                    "mediaType": "application/vnd.cncf.model.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": layers,
            }
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        status, _, body = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{digest}",
            manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert status == 201, (status, body)
        return digest

    def manifest_exists(self, repo: str, digest: str) -> bool:
        status, _, _ = self.request(
            "HEAD", f"/v2/{repo}/manifests/{digest}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
        )
        return status == 200


@dataclass
class SlowServer:
    """A hostile source on loopback (https with a certificate from `ca`, else plain http): it answers one
    byte every `interval` seconds, in the status line (`stage="headers"`) or in a body it claims is large
    (`stage="body"`), so that no per-read timeout ever fires. Every connection ends by itself after `limit`
    seconds (bounded even if the client never gives up). `opened` counts the connections it accepted;
    `peak` is the most the kernel held ESTABLISHED at once (sampled every 20 ms from /proc/net/tcp: a client
    that hangs up leaves that state at once, however late the handler thread notices)."""

    stage: str = "body"
    ca: LocalCA | None = None
    workdir: Path | None = None
    interval: float = 0.5
    limit: float = 90.0
    port: int = field(default_factory=free_port)
    opened: int = 0
    peak: int = 0
    active: int = 0  # handler threads still serving (they notice a hang-up within milliseconds)
    accepted: list[float] = field(default_factory=list)  # monotonic accept times

    def start(self) -> SlowServer:
        outer, lock = self, threading.Lock()
        self._stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle(self) -> None:
                with lock:
                    outer.opened += 1
                    outer.active += 1
                    outer.accepted.append(time.monotonic())
                try:
                    self.raw_requestline = self.rfile.readline(65537)
                    self.parse_request()
                    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
                    if outer.stage == "body":
                        self.wfile.write(head)
                        self.wfile.flush()
                        drip = b"x" * int(outer.limit / outer.interval + 1)
                    else:
                        drip = head
                    ends = time.monotonic() + outer.limit
                    for byte in drip:
                        # the client sends nothing more: readable means it hung up, seen at once
                        readable, _, _ = select.select([self.connection], [], [], outer.interval)
                        if readable or outer._stop.is_set() or time.monotonic() > ends:
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:  # the client hung up: what a deadline does
                    return
                finally:
                    with lock:
                        outer.active -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        if self.ca is not None:
            assert self.workdir is not None
            cert, key = self.ca.write(self.workdir, f"slow-{self.port}", self.ca.issue("slow", hosts=("127.0.0.1",)))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            # the handshake happens in the handler's thread, so one stalled client never holds the others
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def established(self) -> int:
        """Server-side connections of this port in state ESTABLISHED (01), from the kernel's table."""
        port = f"{self.port:04X}"
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port}") and fields[3] == "01":
                count += 1
        return count

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.established())

    @property
    def url(self) -> str:
        return f"{'https' if self.ca is not None else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

"""The model cache's file server: the verified files of one directory, read-only, over plain HTTP.

It runs in the model cache pod after its init container fetched and verified the model. Nothing it
serves is trusted because of where it came from: every model server's init container verifies what it
fetched against the signed manifest again. So the server only has to be small and not leak anything
else: GET and HEAD of regular files below the directory, no listings, no links followed out of it.
"""

from __future__ import annotations

import http.server
import os
import urllib.parse
from pathlib import Path

CHUNK = 1024 * 1024


def resolve(root: Path, url_path: str) -> Path | None:
    """The regular file below root that url_path names, or None (absent, a directory, a link out, `..`)."""
    rel = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path).lstrip("/")
    if not rel or "\x00" in rel or any(part in ("", ".", "..") for part in rel.split("/")):
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(root / rel)
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        return None
    return Path(real)


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    server_version = "modelguard-model-cache"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def _answer(self, body: bool) -> None:
        if self.path == "/healthz":
            self._small(200, b"ok\n", body)
            return
        path = resolve(self.root, self.path)
        if path is None:
            self._small(404, b"not found\n", body)
            return
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while body:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def _small(self, status: int, text: bytes, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if body:
            self.wfile.write(text)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)


def server(root: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """A threaded server of root's files (call serve_forever); port 0 picks a free port."""
    handler = type("ModelFileHandler", (_Handler,), {"root": root})
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    return httpd

#!/usr/bin/python3
"""A small model server for the e2e suite (stdlib only).

`model-server serve MODEL_DIR [--port 8080]` loads (reads and hashes) every file under MODEL_DIR at start
and answers `GET /v1/models` with their SHA-256 digests, so a test can prove that the bytes a pod serves
are the bytes that were verified; `POST /v1/completions` answers with a canned completion.

`model-server files ROOT --cert C --key K [--port 8443]` serves ROOT read-only over https (the model source
of the e2e suite, running as a pod).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import ssl
import sys
from pathlib import Path


def load(model_dir: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digests[path.relative_to(model_dir).as_posix()] = "sha256:" + h.hexdigest()
    return digests


def serve(args: argparse.Namespace) -> None:
    files = load(args.model_dir)
    body = json.dumps({"object": "list", "data": [{"id": args.name, "object": "model", "files": files}]}).encode()
    print(f"loaded {len(files)} files from {args.model_dir}", flush=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path in ("/v1/models", "/healthz"):
                self._send(200, body if self.path == "/v1/models" else b'{"ok":true}')
            else:
                self._send(404, b'{"error":"not found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._send(200, json.dumps({"model": args.name, "choices": [{"text": "ok"}]}).encode())

    http.server.ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


def files(args: argparse.Namespace) -> None:
    root = str(args.root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=root, **kw)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"serving {root} on https port {args.port}", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="model-server")
    sub = parser.add_subparsers(required=True)
    s = sub.add_parser("serve")
    s.add_argument("model_dir", type=Path)
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    s.add_argument("--name", default="model")
    s.add_argument("--host", default="127.0.0.1", help="the gateway beside it is the only client")
    s.set_defaults(func=serve)
    f = sub.add_parser("files")
    f.add_argument("root", type=Path)
    f.add_argument("--cert", required=True)
    f.add_argument("--key", required=True)
    f.add_argument("--port", type=int, default=8443)
    f.set_defaults(func=files)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())

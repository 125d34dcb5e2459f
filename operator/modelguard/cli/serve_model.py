"""`modelguard serve-model DIR`: the model cache's server of the files its init container verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from modelguard.adapters.model_file_server import server


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve-model",
        help="serve a verified model directory read-only over HTTP (the model cache pod; every client re-verifies)",
    )
    parser.add_argument("directory", type=Path, help="the directory `modelguard verify --fetch-into` filled")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")  # noqa: S104
    parser.add_argument("--port", type=int, default=8090)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        print(f"serve-model: {args.directory} is not a directory", file=sys.stderr)
        return 2
    httpd = server(args.directory, args.host, args.port)
    print(f"serving {args.directory} on {args.host}:{httpd.server_address[1]}", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0

"""`modelguard verify`: exit 0 only when the model is verified; otherwise one line saying why.

Used by publishers, by CI and by the init container of every served model, which re-verifies the
exact bytes the pod will load.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelguard.adapters.verifier import verify_local
from modelguard.domain.errors import VerificationError
from modelguard.domain.trust import TrustedKey


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("verify", help="verify a model against its signature (exit 0 only if verified)")
    parser.add_argument(
        "--key",
        type=Path,
        action="append",
        required=True,
        help="trusted PEM public key (repeatable; the key id is the file name without .pem)",
    )
    parser.add_argument("--signature", type=Path, required=True, help="signature bundle (or detached signature)")
    parser.add_argument("--format", choices=["model-signing", "detached"], default="model-signing")
    parser.add_argument("--expect-digest", default=None, help="fail unless the signed model digest is this one")
    parser.add_argument("--workers", type=int, default=None, help="hashing threads (default: CPU count, max 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("model", type=Path, help="model directory or file")
    parser.set_defaults(func=main)


class _Progress:
    """Prints hashing progress to stderr every few seconds on long runs."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.done = 0
        self.started = self.last = time.monotonic()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 5:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9) / 1e6
            print(f"  ... hashed {self.done / 1e9:.2f} GB ({rate:.0f} MB/s)", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    try:
        keys = [TrustedKey(id=p.name.removesuffix(".pem"), pem=p.read_bytes()) for p in args.key]
        signature = Path(args.signature).read_bytes()
    except OSError as exc:
        print(f"not verified: Unreadable: {exc.filename}: {exc.strerror}")
        return 1
    try:
        result = verify_local(
            args.model,
            signature,
            keys,
            datetime.now(UTC),
            format=args.format,
            expect_digest=args.expect_digest,
            workers=args.workers,
            progress=_Progress(not args.quiet),
        )
    except VerificationError as exc:
        print(f"not verified: {exc.reason}: {exc.message}")
        return 1
    except OSError as exc:
        print(f"not verified: Unreadable: {exc.strerror}")
        return 1
    print(
        f"verified {result.digest} signer={result.signer} files={result.files} bytes={result.bytes} "
        f"in {result.seconds:.2f}s"
    )
    return 0

"""The `modelguard` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelguard.cli import audit, certificate, crds, register, report, run, serve_model, signing, verify


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelguard",
        description="ModelGuard: verified, policed and auditable AI models on Kubernetes (ETSI TS 104 223).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_parser(commands)
    crds.add_parser(commands)
    signing.add_parsers(commands)
    verify.add_parser(commands)
    serve_model.add_parser(commands)
    certificate.add_parser(commands)
    register.add_parser(commands)
    audit.add_parser(commands)
    report.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

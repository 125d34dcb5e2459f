"""The `modelguard` command.

Each subcommand's module is imported only when that subcommand runs: `modelguard verify` runs in every model
server pod's init container and in the model cache, and must not pay for the Kubernetes client, Kopf or the
API models it does not use (tests/unit/test_cli_startup.py guards the import set).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from modelguard import __version__

# command -> module under modelguard.cli that registers it (its add_parser or add_parsers)
COMMANDS = {
    "run": "run",
    "crds": "crds",
    "keygen": "signing",
    "sign": "signing",
    "verify": "verify",
    "inspect": "inspect_model",
    "serve-model": "serve_model",
    "certificate": "certificate",
    "register": "register",
    "audit": "audit",
    "report": "report",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `only` (a command name) when that is all that will run."""
    parser = argparse.ArgumentParser(
        prog="modelguard",
        description="ModelGuard: verified, policed and auditable AI models on Kubernetes (ETSI TS 104 223).",
    )
    parser.add_argument("--version", action="version", version=f"modelguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        module = importlib.import_module(f"modelguard.cli.{name}")
        register = getattr(module, "add_parsers", None) or module.add_parser
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS and "--help" not in args_in[:1] else None)
    args = parser.parse_args(args_in)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

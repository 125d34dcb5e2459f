"""`modelguard register export`: the cluster's models, datasets and deployments as a CycloneDX 1.6 ML-BOM."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelguard.builders.register import ml_bom
from modelguard.cli import cluster


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("register", help="the asset register")
    sub = parser.add_subparsers(dest="register_command", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="write the register as a CycloneDX 1.6 ML-BOM (JSON)")
    export.add_argument("--namespace", default=None, help="one namespace (default: all)")
    export.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=export_main)


def export_main(args: argparse.Namespace) -> int:
    try:
        models = cluster.items("aimodels", args.namespace)
        deployments = cluster.items("aideployments", args.namespace)
    except Exception as exc:
        print(f"cannot read the register from the cluster ({type(exc).__name__})", file=sys.stderr)
        return 1
    bom = ml_bom(models, deployments, timestamp=datetime.now(UTC).replace(microsecond=0), serial=uuid.uuid4())
    text = json.dumps(bom, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
        print(f"wrote {len(models)} model(s), {len(deployments)} deployment(s) to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0

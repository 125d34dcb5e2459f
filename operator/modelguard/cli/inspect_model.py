"""`modelguard inspect`: exit 0 only when every file of the model is of an allowed format and safe to load;
otherwise one line per refused file saying why (its format, what its pickles would import, what is broken).

The init containers run the same inspection after verification (`modelguard verify --inspect`, with the same
rule options), on the bytes the pod will load, as the operator does where the files are: one engine
(adapters/inspector.py) and one judgement (domain/inspection.summary); nothing is loaded, imported or executed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from modelguard.adapters.inspector import inspect_model, total_read
from modelguard.api.model_formats import FORMATS
from modelguard.domain.inspection import ENGINE, Rules, findings, summary


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect", help="inspect model files for unsafe serialization (exit 0 only if every file may be loaded)"
    )
    parser.add_argument(
        "--allow-formats",
        default=None,
        metavar="LIST",
        help=f"comma-separated formats that may be loaded (default: safetensors,gguf,onnx,json,text; 'all' for every "
        f"known format: {','.join(FORMATS)}); pickles in an allowed format must import only allowed globals",
    )
    parser.add_argument(
        "--allow-globals",
        default="",
        metavar="LIST",
        help="comma-separated imports pickles may make besides plain tensors' (module.name or module.*)",
    )
    parser.add_argument(
        "--refuse-pickles", action="store_true", help="refuse every file that holds a pickle (the policy's Refuse)"
    )
    parser.add_argument("--ignore-paths", action="append", default=[], metavar="PATH", help="relative path to skip")
    parser.add_argument("--json", action="store_true", help="one JSON document with every file's report")
    parser.add_argument("model", type=Path, help="model directory or file")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        rules = Rules.parse(args.allow_formats, args.allow_globals.split(","), refuse_pickles=args.refuse_pickles)
    except ValueError as exc:
        print(f"not inspected: Usage: {exc}")
        return 2
    if not args.model.exists():
        print(f"not inspected: {args.model} does not exist")
        return 2
    reports = inspect_model(args.model, tuple(args.ignore_paths))
    formats, refused = summary(reports, rules)
    if args.json:
        doc = {
            "engine": ENGINE,
            "formats": formats,
            "bytesRead": total_read(reports),
            "files": [
                {
                    "path": r.path,
                    "format": r.format,
                    "imports": [f"{m}.{n}" for _, m, n in r.imports],
                    "findings": findings(r, rules),
                }
                for r in reports
            ],
        }
        print(json.dumps(doc, indent=2))
    elif refused:
        for line in refused:
            print(f"refused {line}")
    else:
        print(f"inspected {len(reports)} file(s): {', '.join(formats) or 'none'}; every file may be loaded")
    if not reports:
        print("not inspected: no files", file=sys.stderr)
        return 1
    return 1 if refused else 0

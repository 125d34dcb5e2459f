"""`modelguard report`: map the cluster's evidence to each provision of ETSI TS 104 223 (HTML and JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelguard.adapters.compliance_evidence import gather
from modelguard.builders.compliance_report import report_html
from modelguard.cli import cluster
from modelguard.domain.compliance import assess
from modelguard.domain.compliance_document import parse_framework, report_json, with_history
from modelguard.domain.framework_crosswalk import FRAMEWORK_KEYS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("report", help="compliance report against ETSI TS 104 223 (HTML and JSON)")
    parser.add_argument("--namespace", default=None, help="one namespace (default: all)")
    parser.add_argument("--output-dir", type=Path, default=Path("modelguard-report"), help="where to write")
    parser.add_argument("--operator-namespace", default="modelguard-system")
    parser.add_argument(
        "--framework",
        default=None,
        metavar="KEY[=REFERENCE]",
        help=f"only the provisions that support this framework ({', '.join(FRAMEWORK_KEYS)}), or one of its "
        "articles / subcategories / controls (`eu-ai-act=Art. 15`, `iso-27001=8.15`), summarised by its "
        "references (ModelGuard's reading of the cross-references)",
    )
    parser.set_defaults(func=main)


def _previous(path: Path) -> dict[str, Any] | None:
    """The report written there before, for its history (unreadable: a new history starts)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def main(args: argparse.Namespace) -> int:
    if args.framework is not None:
        try:
            parse_framework(args.framework)
        except ValueError as exc:
            print(f"modelguard report: --framework: {exc}", file=sys.stderr)
            return 2
    try:
        facts = gather(cluster.get, args.namespace, args.operator_namespace)
    except Exception as exc:
        print(f"cannot read the cluster ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    document = report_json(
        assess(facts),
        facts,
        namespace=args.namespace,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        operator_namespace=args.operator_namespace,
        framework=args.framework,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    document = with_history(document, _previous(args.output_dir / "report.json"))
    (args.output_dir / "report.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.output_dir / "report.html").write_text(report_html(document))
    summary = ", ".join(f"{count} {status}" for status, count in document["summary"].items())
    print(f"{summary}; wrote {args.output_dir}/report.html and report.json", file=sys.stderr)
    print(document["disclaimer"], file=sys.stderr)
    return 0

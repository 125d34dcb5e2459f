"""`modelguard audit verify`: check an audit log (the operator's stdout, a sink's copy) against the signed
checkpoint kept in the cluster. Exit 0 only when every record is intact and exactly as the operator printed it
(its one canonical encoding), none is missing, and the log reaches the checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from modelguard.adapters.audit_log import CHECKPOINT, CONFIGMAP, ring_lines
from modelguard.cli import cluster
from modelguard.domain import audit, signed_json
from modelguard.domain.errors import VerificationError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("audit", help="work with the audit trail")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    check = sub.add_parser("verify", help="verify audit logs against the signed checkpoint")
    check.add_argument("logs", type=Path, nargs="*", help="log files ('-' for stdin); other lines are skipped")
    check.add_argument(
        "--ring", action="store_true", help="also the newest records kept in the cluster (alone: checks the head)"
    )
    check.add_argument(
        "--checkpoint", type=Path, help="checkpoint JSON (default: the cluster's modelguard-audit ConfigMap)"
    )
    check.add_argument("--key", type=Path, help="the operator's public key (default: read from the cluster)")
    check.add_argument("--operator-namespace", default="modelguard-system")
    check.add_argument("--no-checkpoint", action="store_true", help="check the chain only (weaker: a cut tail passes)")
    check.add_argument(
        "--partial",
        action="store_true",
        help="accept a log that starts after record 1 or runs past the checkpoint (rotated logs); gaps and "
        "altered records still fail. Implied by --ring alone (the ring keeps the newest records only)",
    )
    check.set_defaults(func=verify_main)


def _lines(paths: list[Path]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        # records are single lines split at \n only: str.splitlines() would also split at the Unicode line
        # and paragraph separators a tenant can put into a field
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        lines.extend(text.split("\n"))
    return lines


def _checkpoint(args: argparse.Namespace, ring: dict[str, str] | None) -> dict[str, Any] | None:
    """The checkpoint whose signature verifies, or raises ValueError saying why not. With the ring, the
    checkpoint read together with it (a commit in between would make them disagree)."""
    if args.no_checkpoint:
        return None
    if args.checkpoint:
        point = json.loads(args.checkpoint.read_text())
    else:
        data = ring if ring is not None else cluster.configmap(args.operator_namespace, CONFIGMAP)
        point = json.loads(data[CHECKPOINT])
    pem = args.key.read_bytes() if args.key else cluster.operator_public_key(args.operator_namespace)
    problem = signed_json.verify(pem, point, "checkpoint")
    if problem:
        raise ValueError(problem)
    return dict(point)


def verify_main(args: argparse.Namespace) -> int:
    if not args.logs and not args.ring:
        print("invalid: give log files, '-' for stdin, or --ring")
        return 2
    ring: dict[str, str] | None = None
    try:
        lines = _lines(args.logs)
        if args.ring:
            ring = cluster.configmap(args.operator_namespace, CONFIGMAP)
            lines.extend(ring_lines(ring))
    except OSError as exc:
        print(f"invalid: cannot read the log ({type(exc).__name__})")
        return 1
    except Exception as exc:  # API errors
        print(f"invalid: cannot read the ring from the cluster ({type(exc).__name__})")
        return 1
    try:
        point = _checkpoint(args, ring)
    except (ValueError, VerificationError) as exc:
        print(f"invalid: checkpoint: {exc}")
        return 1
    except Exception as exc:  # API errors, missing ConfigMaps
        print(f"invalid: cannot read the checkpoint or key ({type(exc).__name__})")
        return 1
    partial = args.partial or (args.ring and not args.logs)
    report = audit.verify_log(lines, point, partial=partial)  # each record exactly as the operator printed it
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"problem: {problem}")
    if any("signed checkpoint is at record" in p for p in report.problems) and not args.checkpoint:
        print(
            "hint: on a live cluster, records committed after the log was collected look missing too; save the "
            "checkpoint first (kubectl get configmap modelguard-audit -o jsonpath='{.data.checkpoint\\.json}'), "
            "then collect the logs and pass --checkpoint"
        )
    if not report.ok:
        print("invalid: the audit log does not verify")
        return 1
    against = f", signed checkpoint at record {point['seq']} matches" if point else " (no checkpoint compared)"
    print(f"valid: records {report.first}-{report.last} ({report.records} unique) form one chain{against}")
    return 0

"""`modelguard certificate verify`: check a DecommissionCertificate's signature (exit 0 only if valid)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from modelguard.cli import cluster
from modelguard.domain.decommission import verify
from modelguard.domain.errors import VerificationError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("certificate", help="work with DecommissionCertificates")
    sub = parser.add_subparsers(dest="certificate_command", required=True, metavar="ACTION")
    check = sub.add_parser("verify", help="verify a certificate (a file, or --name from the cluster)")
    check.add_argument("file", type=Path, nargs="?", help="certificate as YAML or JSON (kubectl get -o yaml)")
    check.add_argument("--name", help="read the certificate from the cluster ($KUBECONFIG)")
    check.add_argument(
        "--key",
        type=Path,
        help="the operator's public key (PEM); default: read it from the "
        "cluster's modelguard-signing-public-key ConfigMap",
    )
    check.add_argument("--operator-namespace", default="modelguard-system")
    check.set_defaults(func=verify_main)


def verify_main(args: argparse.Namespace) -> int:
    try:
        if args.name:
            cert = cluster.get(f"{cluster.API}/decommissioncertificates/{args.name}")
        elif args.file:
            cert = yaml.safe_load(Path(args.file).read_text())
        else:
            print("invalid: give a certificate file or --name")
            return 2
        pem = Path(args.key).read_bytes() if args.key else cluster.operator_public_key(args.operator_namespace)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"invalid: cannot read the certificate or key ({type(exc).__name__})")
        return 1
    except Exception as exc:  # API errors
        print(f"invalid: cannot read from the cluster ({type(exc).__name__})")
        return 1
    spec = cert.get("spec") if isinstance(cert, dict) else None
    if not isinstance(spec, dict):
        print("invalid: not a DecommissionCertificate")
        return 1
    try:
        problem = verify(pem, spec)
    except VerificationError as exc:
        print(f"invalid: {exc.message}")
        return 1
    if problem:
        print(f"invalid: {problem}")
        return 1
    model = spec.get("model") or {}
    key_id = str((spec.get("signature") or {}).get("keyId", ""))[:16]
    requester = (spec.get("requester") or {}).get("username")
    print(
        f"valid: {model.get('namespace')}/{model.get('name')} ({spec.get('trigger')}, requested by {requester}, "
        f"{len(spec.get('actions') or [])} actions, completed {spec.get('completedAt')}), signed by key {key_id}"
    )
    return 0

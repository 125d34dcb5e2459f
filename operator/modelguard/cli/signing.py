"""`modelguard keygen` and `modelguard sign`: for model publishers (OpenSSF model signing format)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from modelguard.adapters.hashing import hash_model
from modelguard.api.condition_reasons import Reason
from modelguard.domain import crypto
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import DEFAULT_IGNORES, Serialization, build_bundle, build_statement


def add_parsers(commands: Any) -> None:
    keygen = commands.add_parser("keygen", help="generate an ECDSA signing key pair")
    keygen.add_argument("--out", type=Path, required=True, help="directory for private.pem and public.pem")
    keygen.add_argument("--curve", choices=["p256", "p384", "p521"], default="p256")
    keygen.add_argument("--force", action="store_true", help="replace keys already in --out (the old ones are lost)")
    keygen.set_defaults(func=keygen_main)

    sign = commands.add_parser("sign", help="sign a model directory (or file)")
    sign.add_argument("--key", type=Path, required=True, help="PEM private key")
    sign.add_argument("--signature", type=Path, required=True, help="where to write the signature bundle")
    sign.add_argument(
        "--shard-size",
        type=int,
        default=None,
        help="sign byte ranges of this size instead of whole files (shard serialization)",
    )
    sign.add_argument("--ignore", action="append", default=[], help="path (relative to the model) to leave out")
    sign.add_argument("--allow-symlinks", action="store_true", help="follow symlinks that stay inside the model")
    sign.add_argument(
        "--signing-certificate",
        type=Path,
        default=None,
        help="sign with this certificate (PEM) for --key: the certificate method (the bundle carries it)",
    )
    sign.add_argument(
        "--certificate-chain",
        type=Path,
        action="append",
        default=[],
        help="intermediate (and root) CA certificates (PEM) to put in the bundle after the signing certificate",
    )
    sign.add_argument("model", type=Path, help="model directory or single file")
    sign.set_defaults(func=sign_main)


def keygen_main(args: argparse.Namespace) -> int:
    out: Path = args.out
    private = out / "private.pem"
    existing = [p for p in (private, out / "public.pem") if p.exists() or p.is_symlink()]
    if existing and not args.force:
        names = " and ".join(str(p) for p in existing)
        print(f"keygen: {names} already exist: a new key would orphan every model signed with the old one; "
              "use another --out, or --force to replace them", file=sys.stderr)  # fmt: skip
        return 1
    out.mkdir(parents=True, exist_ok=True)
    key = crypto.generate(args.curve)
    with contextlib.suppress(FileNotFoundError):
        private.unlink()  # --force: a new file, created 0600 (never a link followed)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(crypto.private_pem(key))
    (out / "public.pem").write_bytes(crypto.public_pem(key.public_key()))
    print(f"wrote {private} (mode 0600) and {out / 'public.pem'}; key hint {crypto.key_hint(key.public_key())}")
    return 0


def sign_main(args: argparse.Namespace) -> int:
    model: Path = args.model
    try:
        key = crypto.load_private_key(Path(args.key).read_bytes())
        certificates = _certificates(args, key)
    except (OSError, VerificationError) as exc:
        print(f"cannot use key: {exc}", file=sys.stderr)
        return 1
    ignores = list(DEFAULT_IGNORES) + list(args.ignore)
    signature: Path = args.signature
    if model.is_dir():
        with contextlib.suppress(ValueError):  # the signature lives outside the model
            ignores.append(str(signature.resolve().relative_to(model.resolve())))
    serialization = Serialization(
        method="shards" if args.shard_size else "files",
        shard_size=args.shard_size,
        allow_symlinks=args.allow_symlinks,
        ignore_paths=tuple(ignores),
    )
    try:
        result = hash_model(model, serialization)
    except VerificationError as exc:
        print(f"cannot sign: {exc.reason}: {exc.message}", file=sys.stderr)
        return 1
    name = model.resolve().name
    payload = build_statement(name, serialization, result.resources, single_file=model.is_file())
    bundle = build_bundle(payload, crypto.sign_dsse(key, payload), crypto.key_hint(key.public_key()), certificates)
    signature.write_bytes(bundle)
    print(f"signed {result.files} file(s), {result.bytes} bytes in {result.seconds:.2f}s -> {signature}")
    return 0


def _certificates(args: argparse.Namespace, key: Any) -> tuple[bytes, ...]:
    """The DER chain of the certificate method (signing certificate first), () for a bare key."""
    if args.signing_certificate is None:
        if args.certificate_chain:
            raise VerificationError("Usage", "--certificate-chain needs --signing-certificate")
        return ()
    try:
        leaf = x509.load_pem_x509_certificate(Path(args.signing_certificate).read_bytes())
        chain = [c for path in args.certificate_chain for c in x509.load_pem_x509_certificates(Path(path).read_bytes())]
    except ValueError:
        raise VerificationError(Reason.INVALID_KEY, "a certificate file is not PEM") from None
    if leaf.public_key() != key.public_key():
        raise VerificationError(Reason.INVALID_KEY, f"{args.signing_certificate} is not the certificate of --key")
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in (leaf, *chain))

"""`modelguard verify`: exit 0 only when the model is verified; otherwise one line saying why.

Used by publishers, by CI and by the init container of every served model, which re-verifies the
exact bytes the pod will load.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelguard.adapters.fetch import clear, mounted_credentials
from modelguard.adapters.http import HttpClient
from modelguard.adapters.sources import SourceSettings, fetch_model, source_origin
from modelguard.adapters.verification_service import ssl_context
from modelguard.adapters.verifier import authenticate_bundle, check_expected, verify_local
from modelguard.api.condition_reasons import Reason
from modelguard.domain import crypto
from modelguard.domain.credentials import Credentials
from modelguard.domain.errors import Retry, VerificationError
from modelguard.domain.statement import Resource, Serialization, SignedManifest, unpack_signature
from modelguard.domain.trust import Anchor, SignedBy, TrustedCA, TrustedIdentity, TrustedKey
from modelguard.domain.x509_chain import load_roots

WAIT_STEP = 3.0  # seconds between attempts to reach a source that is not up yet (--wait)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("verify", help="verify a model against its signature (exit 0 only if verified)")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ID=]PATH",
        help="trusted PEM public key, named ID in the output (repeatable; without ID, the key's fingerprint "
        "sha256:<first 16 hex of SHA-256 of the PEM>, never the file's name)",
    )
    parser.add_argument(
        "--certificate-chain",
        action="append",
        default=[],
        metavar="[ID=]PATH",
        help="trusted CA certificates (PEM) for models signed with a certificate (model_signing's certificate "
        "method); the signer is shown as ID:<certificate subject> (repeatable; without ID, ca-<fingerprint>)",
    )
    parser.add_argument("--identity", default=None, help="Sigstore keyless: the signer identity the certificate names")
    parser.add_argument(
        "--identity-provider", default=None, metavar="URL", help="Sigstore keyless: the OIDC issuer of --identity"
    )
    parser.add_argument(
        "--trust-config",
        type=Path,
        default=None,
        help="Sigstore keyless: a client trust configuration (JSON) for a private Sigstore; default: the public-good "
        "trust root sigstore-python ships (verified offline)",
    )
    parser.add_argument("--signature", type=Path, required=True, help="signature bundle (or detached signature)")
    parser.add_argument(
        "--ignore-paths",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="leave this path of the model out (absolute, or relative to the current directory, as model_signing "
        "takes it; repeatable); the signature file is left out when it lies inside the model",
    )
    parser.add_argument("--format", choices=["model-signing", "detached"], default="model-signing")
    parser.add_argument("--expect-digest", default=None, help="fail unless the signed model digest is this one")
    parser.add_argument("--workers", type=int, default=None, help="hashing threads (default: CPU count, max 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--source",
        default=None,
        help="fetch the model from this URI (file://, https://, oci://) into --fetch-into first",
    )
    parser.add_argument("--fetch-into", type=Path, default=None, help="directory to fetch the model into")
    parser.add_argument(
        "--via",
        default=None,
        metavar="URL",
        help="fetch the files from this model cache (http:// inside the cluster) instead of from --source, which "
        "still names them; what is fetched is verified all the same",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry an unreachable source for up to this long (a model cache that is still starting)",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="directory of a mounted Secret with registry or server credentials (each file one key, used byte for "
        "byte); they go only to the origin of --source",
    )
    parser.add_argument(
        "--credentials-type",
        default="Opaque",
        metavar="TYPE",
        help="the type of that Secret: kubernetes.io/basic-auth, kubernetes.io/dockerconfigjson, or Opaque (exactly "
        "username and password, or exactly token); others are refused",
    )
    parser.add_argument("--ca-bundle", type=Path, default=None, help="CA certificates for https:// and oci://")
    parser.add_argument(
        "--file-root", type=Path, action="append", default=[], help="allowed root for file:// sources (repeatable)"
    )
    parser.add_argument(
        "--plain-http-registry",
        action="append",
        default=[],
        help="loopback registry host:port reached over http (tests)",
    )
    parser.add_argument(
        "--inspect",
        action="store_true",
        help="after verifying, inspect the files for unsafe serialization (as `modelguard inspect`); fail if refused",
    )
    parser.add_argument("--allow-formats", default=None, metavar="LIST", help="with --inspect: formats allowed")
    parser.add_argument("--allow-globals", default="", metavar="LIST", help="with --inspect: extra pickle imports")
    parser.add_argument("--refuse-pickles", action="store_true", help="with --inspect: refuse every pickle")
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


def _credentials(args: argparse.Namespace, settings: SourceSettings) -> Credentials | None:
    """The source's credentials from the mounted Secret, by the operator's own rule (domain/credentials), bound
    to the origin the source's provider names."""
    if args.credentials is None:
        return None
    origin = source_origin(args.source, settings)
    return mounted_credentials(args.credentials, args.credentials_type, origin)


def _fetch(
    args: argparse.Namespace,
    signature: bytes,
    anchors: list[Anchor],
    trust_config: bytes | None,
    now: datetime,
) -> Path:
    """Authenticate the signature, then fetch exactly the files it lists (verification follows). Returns what
    to verify: the directory, or for a detached signature the one file fetched into it."""
    settings = SourceSettings(
        HttpClient(ssl_context(args.ca_bundle), plain_http=args.via is not None),
        tuple(args.file_root),
        tuple(args.plain_http_registry),
    )
    target: Path = args.fetch_into
    clear(target)
    if args.format == "detached":
        name = args.source.rstrip("/").rsplit("/", 1)[-1].split("@")[0] or "model"
        manifest = SignedManifest(name, Serialization(), (Resource(name, ""),))
    else:
        _, manifest = authenticate_bundle(signature, anchors, now, trust_config)
        check_expected(manifest, args.expect_digest)
    credentials = _credentials(args, settings)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            written = fetch_model(args.via or args.source, manifest, target, settings, credentials)
            break
        except Retry as exc:
            if time.monotonic() + WAIT_STEP > deadline:
                raise
            if not args.quiet:
                print(f"  ... waiting for {args.via or args.source}: {exc.reason}: {exc.message}", file=sys.stderr)
            time.sleep(WAIT_STEP)
            clear(target)
    if not args.quiet:
        print(f"fetched {written} bytes into {target}", file=sys.stderr)
    return target / manifest.resources[0].path if args.format == "detached" else Path(args.model)


def trusted_key(value: str) -> TrustedKey:
    """`ID=PATH` or `PATH` (named by the key's fingerprint: a file called publisher.pem proves nothing)."""
    name, sep, path = value.partition("=")
    if not sep:
        name, path = "", value
    pem = Path(path).read_bytes()
    try:
        public = crypto.load_public_key(pem) if b"PRIVATE KEY" not in pem else None
    except VerificationError as exc:
        raise VerificationError(exc.reason, f"{path}: {exc.message}") from None
    if public is None:  # a publisher's private key where the public one belongs: say so, never "unknown signer"
        kind = "an encrypted private key" if b"ENCRYPTED" in pem else "a private key"
        raise VerificationError(Reason.INVALID_KEY, f"{path} is {kind}; --key takes the public key (public.pem)")
    return TrustedKey(id=name or "sha256:" + crypto.key_hint(public)[:16], pem=pem)


def ignored_paths(model: Path, paths: list[Path]) -> list[str]:
    """Paths inside the model, relative to it, as model_signing resolves --ignore-paths (others are dropped)."""
    root = model.resolve()
    out = []
    for path in paths:
        candidate = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if candidate != root and root in candidate.parents:
            out.append(candidate.relative_to(root).as_posix())
    return out


def trusted_ca(value: str) -> TrustedCA:
    """`ID=PATH` or `PATH` (named ca-<first 16 hex of the SHA-256 of the PEM>)."""
    name, sep, path = value.partition("=")
    if not sep:
        name, path = "", value
    pem = Path(path).read_bytes()
    if b"PRIVATE KEY" in pem:
        raise VerificationError(
            Reason.INVALID_KEY, f"{path} holds a private key; --certificate-chain takes CA certificates"
        )
    try:
        load_roots(pem)
    except VerificationError as exc:
        raise VerificationError(exc.reason, f"{path}: {exc.message}") from None
    return TrustedCA(id=name or "ca-" + hashlib.sha256(pem).hexdigest()[:16], pem=pem)


def main(args: argparse.Namespace) -> int:
    methods = [bool(args.key), bool(args.certificate_chain), bool(args.identity or args.identity_provider)]
    if sum(methods) != 1 or bool(args.identity) != bool(args.identity_provider):
        print(
            "not verified: Usage: give one of --key, --certificate-chain, or --identity with --identity-provider "
            "(what to trust)"
        )
        return 2
    try:
        anchors: list[Anchor] = [trusted_key(value) for value in args.key]
        anchors += [trusted_ca(value) for value in args.certificate_chain]
        if args.identity:  # exactly this identity and issuer, as model_signing takes them
            anchors.append(TrustedIdentity("sigstore", args.identity_provider, identity=args.identity))
        trust_config = args.trust_config.read_bytes() if args.trust_config else None
        signature = unpack_signature(Path(args.signature).read_bytes())  # the operator ships it gzipped
    except OSError as exc:
        print(f"not verified: Unreadable: {exc.filename}: {exc.strerror}")
        return 1
    except VerificationError as exc:
        print(f"not verified: {exc.reason}: {exc.message}")
        return 1
    now = datetime.now(UTC)
    model: Path = args.model
    if args.source:
        if args.fetch_into is None:
            print("not verified: Usage: --source needs --fetch-into")
            return 2
        try:
            model = _fetch(args, signature, anchors, trust_config, now)
        except (VerificationError, Retry) as exc:
            print(f"not verified: {exc.reason}: {exc.message}")
            return 1
        except OSError as exc:  # e.g. an unreadable --ca-bundle or --credentials
            print(f"not verified: Unreadable: {exc.filename or ''}: {exc.strerror}")
            return 1
    try:
        result = verify_local(
            model,
            signature,
            anchors,
            now,
            format=args.format,
            expect_digest=args.expect_digest,
            workers=args.workers,
            progress=_Progress(not args.quiet),
            use_mmap=True,  # a short-lived process: a file truncated under it fails closed
            ignore=ignored_paths(model, [*args.ignore_paths, args.signature]),
            trust_config=trust_config,
        )
    except VerificationError as exc:
        print(f"not verified: {exc.reason}: {exc.message}")
        return 1
    except OSError as exc:
        print(f"not verified: Unreadable: {exc.strerror}")
        return 1
    print(
        f"verified {result.digest} signer={result.signer}{_details(result.signed_by)} files={result.files} "
        f"bytes={result.bytes} in {result.seconds:.2f}s"
    )
    return _inspect(args, model, result.paths) if args.inspect else 0


def _inspect(args: argparse.Namespace, model: Path, paths: tuple[str, ...]) -> int:
    """The files that verified, inspected with the TrustPolicy's rules: a pod never starts on a forbidden file."""
    from modelguard.adapters.inspector import inspect_model
    from modelguard.domain.inspection import Rules, summary

    try:
        rules = Rules.parse(args.allow_formats, args.allow_globals.split(","), refuse_pickles=args.refuse_pickles)
    except ValueError as exc:
        print(f"not verified: Usage: {exc}")
        return 2
    reports = inspect_model(model, only=None if model.is_file() else paths)
    formats, refused = summary(reports, rules)
    if refused:
        print(f"not verified: UnsafeFiles: {'; '.join(refused)[:1500]}")
        return 1
    print(f"inspected {len(reports)} file(s): {', '.join(formats) or 'none'}; every file may be loaded")
    return 0


def _details(signed_by: SignedBy | None) -> str:
    """What else vouched for the signer: a certificate's issuer, a Sigstore issuer and transparency-log index."""
    if signed_by is None or signed_by.method == "key":
        return ""
    shown = f" issuer={signed_by.issuer!r}" if signed_by.method == "certificate" else f" issuer={signed_by.issuer}"
    return shown + (f" logIndex={signed_by.log_index}" if signed_by.log_index else "")

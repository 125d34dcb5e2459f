"""The OpenSSF model signing format (v1.0), parsed and built without I/O.

A signature is a Sigstore bundle (media type v0.3) holding a DSSE envelope whose payload is an in-toto
Statement v1. Its predicate (type https://model_signing/signature/v1.0) lists every resource of the
model (a file, or a shard `path:start:end`) with its SHA-256 digest, and the serialization used. The
subject digest is SHA-256 over the resource digests in listed order. Everything here treats the input
as hostile: sizes are bounded, names are checked for traversal, and every failure has a reason.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from modelguard.api.condition_reasons import Reason
from modelguard.domain import safe_json
from modelguard.domain.errors import VerificationError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DEFAULT_IGNORES = (".git", ".gitignore", ".github", ".gitattributes")

MAX_BUNDLE_BYTES = 16 * 1024 * 1024
SINGLE_FILE = "."  # model_signing's resource name for a model that is one file
PREDICATE_TYPE_V02 = "https://model_signing/Digests/v0.1"  # model_signing 0.2's statements
MAX_RESOURCES = 100_000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SHARD = re.compile(r"^(?P<path>.+):(?P<start>0|[1-9][0-9]{0,18}):(?P<end>0|[1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class Serialization:
    """How the model was turned into resources."""

    method: Literal["files", "shards"] = "files"
    shard_size: int | None = None
    allow_symlinks: bool = False
    ignore_paths: tuple[str, ...] = DEFAULT_IGNORES

    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"method": self.method, "hash_type": "sha256", "allow_symlinks": self.allow_symlinks}
        if self.method == "shards":
            params["shard_size"] = self.shard_size
        if self.ignore_paths:
            params["ignore_paths"] = list(self.ignore_paths)
        return params


@dataclass(frozen=True)
class Resource:
    """One signed resource: a whole file (start/end None) or a byte range of one."""

    path: str
    digest: str  # lowercase hex SHA-256
    start: int | None = None
    end: int | None = None

    @property
    def name(self) -> str:
        return self.path if self.start is None else f"{self.path}:{self.start}:{self.end}"

    def sort_key(self) -> tuple[tuple[str, ...], int, int]:
        return (tuple(self.path.split("/")), self.start or 0, self.end or 0)


@dataclass(frozen=True)
class SignedManifest:
    """What a verified statement says the model consists of."""

    model_name: str
    serialization: Serialization
    resources: tuple[Resource, ...]
    root_digest: str = field(default="")  # the format's subject digest (file digests only)

    @functools.cached_property
    def digest(self) -> str:
        """ModelGuard's pin of the model (status.verified.digest, --expect-digest, approvals): it binds every
        file's name to its digest, unlike the subject digest (see model_digest)."""
        return model_digest(self.serialization, self.resources)

    @property
    def subject_digest(self) -> str:
        return f"sha256:{self.root_digest}"

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({r.path for r in self.resources}))

    def by_name(self) -> dict[str, str]:
        return {r.name: r.digest for r in self.resources}


@dataclass(frozen=True)
class Bundle:
    """The parts of a bundle that verification needs."""

    payload: bytes
    signature: bytes
    key_hint: str | None
    chain: tuple[bytes, ...] = ()  # DER certificates, signing certificate first (the certificate method)


def safe_relative_path(name: str) -> str:
    """Reject absolute paths, traversal, empty or odd components; return the POSIX path unchanged."""
    if not name or len(name) > 4096:
        raise VerificationError(Reason.UNSAFE_PATH, "resource name is empty or too long")
    if "\x00" in name or "\\" in name:
        raise VerificationError(Reason.UNSAFE_PATH, f"resource name {name[:200]!r} contains NUL or backslash")
    if name.startswith("/"):
        raise VerificationError(Reason.UNSAFE_PATH, f"resource {name[:200]!r} is an absolute path")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise VerificationError(Reason.UNSAFE_PATH, f"resource {name[:200]!r} escapes or is not normalised")
    return name


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


def root_digest(resources: tuple[Resource, ...]) -> str:
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource.digest))
    return hasher.hexdigest()


def model_digest(serialization: Serialization, resources: tuple[Resource, ...]) -> str:
    """`sha256:` over the canonical JSON of how the model was cut and its (name, digest) pairs sorted by name.

    The OpenSSF format's subject digest hashes the file digests alone, in name order: renaming a file, or
    swapping two names whose order stays, leaves it unchanged. A pin must not: a loader picks files by name
    (a `.safetensors` renamed to `.bin` is loaded with pickle), so this digest changes with any name."""
    doc = {
        "method": serialization.method,
        "shardSize": serialization.shard_size,
        "resources": sorted([r.name, r.digest] for r in resources),
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"{what} is not valid base64") from None


GZIP_MAGIC = b"\x1f\x8b"


def pack_signature(raw: bytes) -> bytes:
    """A signature as ModelGuard ships it to init containers: gzip (a bundle listing 10,000 files is 2.5 MB of
    JSON, about 560 KB compressed; a ConfigMap holds 1 MiB). Deterministic: no timestamp in the header."""
    return gzip.compress(raw, compresslevel=9, mtime=0)


def unpack_signature(data: bytes) -> bytes:
    """The signature bytes from what was shipped (gzip) or given as is (a bundle or detached signature, which
    never starts with gzip's magic). Decompression stops past the bundle size limit (no gzip bomb)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        inflater = zlib.decompressobj(wbits=31)
        raw = inflater.decompress(data, MAX_BUNDLE_BYTES + 1)
    except zlib.error:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "the shipped signature is not valid gzip") from None
    if len(raw) > MAX_BUNDLE_BYTES or inflater.unconsumed_tail:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"signature bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    return raw


def parse_bundle(raw: bytes) -> Bundle:
    """Parse a Sigstore bundle carrying a DSSE envelope (no signature check yet)."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"signature bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = safe_json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "signature bundle is not valid JSON") from None
    if not isinstance(doc, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "signature bundle is not a JSON object")
    if doc.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise VerificationError(
            Reason.MALFORMED_SIGNATURE, f"unsupported bundle media type {str(doc.get('mediaType'))[:100]!r}"
        )
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "bundle has no DSSE envelope")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "DSSE payload is not an in-toto statement")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or not isinstance(signatures[0], dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "DSSE envelope must carry exactly one signature")
    material = doc.get("verificationMaterial") or {}
    if not isinstance(material, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "bundle verification material is not an object")
    hint = (material.get("publicKey") or {}).get("hint") if isinstance(material.get("publicKey"), dict) else None
    return Bundle(
        payload=_b64(envelope.get("payload"), "DSSE payload"),
        signature=_b64(signatures[0].get("sig"), "DSSE signature"),
        key_hint=hint if isinstance(hint, str) and hint else None,
        chain=_chain(material),
    )


MAX_CHAIN = 10


def _chain(material: dict[str, Any]) -> tuple[bytes, ...]:
    """The certificates of a bundle signed with a certificate (x509CertificateChain, or v0.3's single
    certificate), signing certificate first; () for a bundle signed with a bare key."""
    if "x509CertificateChain" in material:
        listed = (material.get("x509CertificateChain") or {}).get("certificates")
    elif "certificate" in material:
        listed = [material.get("certificate")]
    else:
        return ()
    if not isinstance(listed, list) or not listed or len(listed) > MAX_CHAIN:
        raise VerificationError(
            Reason.MALFORMED_SIGNATURE, f"bundle certificate chain must hold 1 to {MAX_CHAIN} certificates"
        )
    out = []
    for entry in listed:
        raw = entry.get("rawBytes") if isinstance(entry, dict) else None
        out.append(_b64(raw, "certificate"))
    return tuple(out)


def _algorithm(serialization: Serialization) -> str:
    """model_signing names shard digests after the shard size."""
    if serialization.method == "shards":
        return f"sha256-sharded-{serialization.shard_size}"
    return "sha256"


def _resource(entry: Any, serialization: Serialization) -> Resource:
    method = serialization.method
    if not isinstance(entry, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "resource entry is not an object")
    name, algorithm, digest = entry.get("name"), entry.get("algorithm"), entry.get("digest")
    if algorithm not in ("sha256", _algorithm(serialization)):
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM, f"resource digest algorithm {str(algorithm)[:40]!r}")
    if not isinstance(name, str) or not isinstance(digest, str) or not _HEX64.match(digest):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "resource has no valid name or sha256 digest")
    if method == "files":
        return Resource(safe_relative_path(name), digest)
    match = _SHARD.match(name)
    if not match:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"shard name {name[:200]!r} is not path:start:end")
    start, end = int(match["start"]), int(match["end"])
    if end <= start:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"shard {name[:200]!r} has an empty or negative range")
    return Resource(safe_relative_path(match["path"]), digest, start, end)


def _serialization(params: Any) -> Serialization:
    if not isinstance(params, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement has no serialization")
    method = params.get("method")
    if method not in ("files", "shards"):
        raise VerificationError(Reason.UNSUPPORTED_SERIALIZATION, f"serialization method {str(method)[:40]!r}")
    if params.get("hash_type") != "sha256":
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM, f"hash type {str(params.get('hash_type'))[:40]!r}")
    shard_size = params.get("shard_size")
    if isinstance(shard_size, float) and shard_size.is_integer():  # protobuf JSON (model_signing) writes 1e9 as 1e9
        shard_size = int(shard_size)
    if method == "shards" and (not isinstance(shard_size, int) or isinstance(shard_size, bool) or shard_size < 1):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "shard serialization without a positive shard_size")
    ignores = params.get("ignore_paths") or []
    if not isinstance(ignores, list) or not all(isinstance(p, str) for p in ignores):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "ignore_paths is not a list of strings")
    return Serialization(
        method=method,
        shard_size=shard_size if method == "shards" else None,
        allow_symlinks=bool(params.get("allow_symlinks", False)),
        ignore_paths=tuple(str(p) for p in ignores),
    )


def parse_statement(payload: bytes) -> SignedManifest:
    """Parse and check an (already authenticated) in-toto statement."""
    try:
        doc = safe_json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "signed payload is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "signed payload is not an in-toto v1 statement")
    if doc.get("predicateType") == PREDICATE_TYPE_V02:
        return _manifest_v02(doc)
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(Reason.UNSUPPORTED_PREDICATE, f"predicate type {str(doc.get('predicateType'))[:100]!r}")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement must have exactly one subject")
    subject = subjects[0]
    expected = (subject.get("digest") or {}).get("sha256") if isinstance(subject.get("digest"), dict) else None
    if not isinstance(expected, str) or not _HEX64.match(expected):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "subject has no sha256 digest")
    predicate = doc.get("predicate")
    if not isinstance(predicate, dict):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement has no predicate")
    serialization = _serialization(predicate.get("serialization"))
    entries = predicate.get("resources")
    if not isinstance(entries, list) or not entries:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement lists no resources")
    if len(entries) > MAX_RESOURCES:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, f"statement lists more than {MAX_RESOURCES} resources")
    name = subject.get("name")
    if len(entries) == 1 and isinstance(entries[0], dict) and entries[0].get("name") == SINGLE_FILE:
        # model_signing names the one resource of a single-file model "."; the file is the subject's name
        entries = [{**entries[0], "name": safe_relative_path(name if isinstance(name, str) else "")}]
    resources = tuple(_resource(e, serialization) for e in entries)
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement lists a resource twice")
    computed = root_digest(resources)
    if computed != expected:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "subject digest does not match the listed resources")
    return SignedManifest(
        model_name=name if isinstance(name, str) else "",
        serialization=serialization,
        resources=resources,
        root_digest=computed,
    )


def _manifest_v02(doc: dict[str, Any]) -> SignedManifest:
    """A model_signing 0.2 statement (still verified by model_signing 1.1.1): one subject per file with its
    SHA-256, no serialization record (whole files, no symlinks, git paths ignored as the CLI defaults)."""
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects or len(subjects) > MAX_RESOURCES:
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "a model_signing 0.2 statement lists its files as subjects")
    serialization = Serialization()
    entries = []
    for subject in subjects:
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            raise VerificationError(Reason.MALFORMED_SIGNATURE, "subject entry is not an object with a digest")
        algorithm = (subject.get("annotations") or {}).get("actual_hash_algorithm", "file-sha256")
        if algorithm != "file-sha256":
            raise VerificationError(Reason.UNSUPPORTED_ALGORITHM, f"subject digest algorithm {str(algorithm)[:40]!r}")
        entries.append({"name": subject.get("name"), "algorithm": "sha256", "digest": subject["digest"].get("sha256")})
    resources = tuple(_resource(e, serialization) for e in entries)
    if len({r.name for r in resources}) != len(resources):
        raise VerificationError(Reason.MALFORMED_SIGNATURE, "statement lists a file twice")
    ordered = tuple(sorted(resources, key=Resource.sort_key))
    return SignedManifest(
        model_name="", serialization=serialization, resources=ordered, root_digest=root_digest(ordered)
    )


def build_statement(
    model_name: str, serialization: Serialization, resources: Mapping[str, Resource], single_file: bool = False
) -> bytes:
    """The canonical statement for a set of resources (sorted as model_signing sorts them). A single-file model's
    one resource is named "." as model_signing names it (the subject carries the file's name)."""
    ordered = tuple(sorted(resources.values(), key=Resource.sort_key))
    if single_file and serialization.method == "files":
        ordered = tuple(Resource(SINGLE_FILE, r.digest) for r in ordered)
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root_digest(ordered)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": serialization.parameters(),
            "resources": [
                {"name": r.name, "algorithm": _algorithm(serialization), "digest": r.digest} for r in ordered
            ],
        },
    }
    return json.dumps(doc, indent=2).encode()


def build_bundle(payload: bytes, signature: bytes, key_hint: str, certificates: tuple[bytes, ...] = ()) -> bytes:
    """A model_signing bundle: for a bare key, its hint; for the certificate method, the DER chain (signing
    certificate first), as model_signing writes it."""
    material: dict[str, Any] = (
        {"x509CertificateChain": {"certificates": [{"rawBytes": base64.b64encode(c).decode()} for c in certificates]}}
        if certificates
        else {"publicKey": {"hint": key_hint}}
    )
    doc = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {**material, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    return json.dumps(doc, indent=2).encode()

"""Verification of models on disk: every bad input gets its own reason, nothing bad verifies."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelguard.adapters.verifier import verify_local
from modelguard.domain import crypto
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import (
    DEFAULT_IGNORES,
    PAYLOAD_TYPE,
    Resource,
    Serialization,
    SignedManifest,
    build_bundle,
    pack_signature,
    pae,
    parse_bundle,
    parse_statement,
)
from modelguard.domain.trust import TrustedKey
from tests.harness.models import KeyPair, flip_byte, sign, sign_resources, truncate, write_model

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
KEY = KeyPair.generate()
OTHER = KeyPair.generate()


def trusted(key: KeyPair = KEY, **kw: object) -> list[TrustedKey]:
    return [TrustedKey(id="publisher", pem=key.public_pem, **kw)]  # type: ignore[arg-type]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_model(tmp_path / "model")


def reason_of(call: Callable[[], object]) -> str:
    with pytest.raises(VerificationError) as err:
        call()
    return err.value.reason


def test_intact_model_verifies_with_digest_and_counts(model: Path) -> None:
    bundle = sign(model, KEY)
    result = verify_local(model, bundle, trusted(), NOW)
    assert result.signer == "publisher"
    assert result.files == 4 and result.bytes == 300_000 + 200_000 + 512 + 4096
    assert result.digest.startswith("sha256:") and len(result.digest) == 71
    again = verify_local(model, bundle, trusted(), NOW, expect_digest=result.digest)
    assert again.digest == result.digest


TAMPERING: list[tuple[str, Callable[[Path], None], str]] = [
    ("flipped-byte", lambda m: flip_byte(m / "weights/model-00001.safetensors", 1234), "DigestMismatch"),
    ("missing-file", lambda m: (m / "tokenizer.json").unlink(), "MissingFile"),
    ("extra-file", lambda m: (m / "weights/extra.bin").write_bytes(b"unsigned"), "UnsignedFile"),
    ("truncated", lambda m: truncate(m / "weights/model-00002.safetensors", 1000), "DigestMismatch"),
    ("symlink-escape", lambda m: os.symlink("/etc/hostname", m / "weights/link.bin"), "SymlinkNotAllowed"),
    ("fifo", lambda m: os.mkfifo(m / "weights/pipe"), "UnsupportedFileType"),
]


@pytest.mark.parametrize(("change", "reason"), [pytest.param(c, r, id=i) for i, c, r in TAMPERING])
def test_tampered_model_is_refused(model: Path, change: Callable[[Path], None], reason: str) -> None:
    bundle = sign(model, KEY)
    change(model)
    assert reason_of(lambda: verify_local(model, bundle, trusted(), NOW)) == reason


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        pytest.param(lambda: trusted(OTHER), "UnknownSigner", id="wrong-key"),
        pytest.param(lambda: trusted(revoked=True), "KeyRevoked", id="revoked"),
        pytest.param(lambda: trusted(not_after=NOW - timedelta(days=1)), "KeyExpired", id="expired"),
        pytest.param(lambda: trusted(not_before=NOW + timedelta(days=1)), "KeyNotYetValid", id="not-yet-valid"),
        pytest.param(lambda: [TrustedKey("bad", b"not a pem")], "UnknownSigner", id="unparseable-key"),
    ],
)
def test_untrusted_signers_are_refused(model: Path, keys: Callable[[], list[TrustedKey]], reason: str) -> None:
    bundle = sign(model, KEY)
    assert reason_of(lambda: verify_local(model, bundle, keys(), NOW)) == reason


def _edit_bundle(bundle: bytes, edit: Callable[[dict[str, object]], None]) -> bytes:
    doc = json.loads(bundle)
    edit(doc)
    return json.dumps(doc).encode()


def _strip_hint(doc: dict[str, object]) -> None:
    doc["verificationMaterial"] = {"tlogEntries": []}


def _signed(payload: bytes) -> bytes:
    """A bundle the trusted key really signed, around any payload (a publisher's broken or hostile tool)."""
    private = crypto.load_private_key(KEY.private_pem)
    return build_bundle(payload, crypto.sign_dsse(private, payload), crypto.key_hint(private.public_key()))


def _replace_payload(doc: dict[str, object]) -> None:
    envelope = doc["dsseEnvelope"]
    assert isinstance(envelope, dict)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["resources"] = statement["predicate"]["resources"][:1]
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        pytest.param(lambda b: b"{not json", "MalformedSignature", id="not-json"),
        pytest.param(lambda b: b[: len(b) // 2], "MalformedSignature", id="truncated-bundle"),
        pytest.param(lambda b: b"", "MalformedSignature", id="empty"),
        pytest.param(lambda b: b"[" * 200_000 + b"]" * 200_000, "MalformedSignature", id="nested-too-deep"),
        pytest.param(
            lambda b: _signed(b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
            "MalformedSignature",
            id="signed-statement-nested-too-deep",
        ),
        pytest.param(
            lambda b: _edit_bundle(b, lambda d: d.update(mediaType="x")), "MalformedSignature", id="wrong-media-type"
        ),
        pytest.param(lambda b: _edit_bundle(b, _replace_payload), "SignatureInvalid", id="payload-swapped"),
        pytest.param(
            lambda b: _edit_bundle(b, lambda d: d["dsseEnvelope"].update(signatures=[])),  # type: ignore[union-attr]
            "MalformedSignature",
            id="no-signature",
        ),
    ],
)
def test_malformed_bundles_are_refused(model: Path, mangle: Callable[[bytes], bytes], reason: str) -> None:
    bundle = mangle(sign(model, KEY))
    assert reason_of(lambda: verify_local(model, bundle, trusted(), NOW)) == reason


def test_bundle_without_key_hint_tries_every_trusted_key(model: Path) -> None:
    bundle = _edit_bundle(sign(model, KEY), _strip_hint)
    keys = [TrustedKey("other", OTHER.public_pem), TrustedKey("publisher", KEY.public_pem)]
    assert verify_local(model, bundle, keys, NOW).signer == "publisher"
    assert reason_of(lambda: verify_local(model, bundle, [keys[0]], NOW)) == "SignatureInvalid"


@pytest.mark.parametrize("name", ["../outside.bin", "/etc/passwd", "weights/../../x", "a//b", "./a", "a\\b"])
def test_signed_manifest_with_unsafe_paths_is_refused(model: Path, name: str) -> None:
    serialization = Serialization("files", None, False, DEFAULT_IGNORES)
    bundle = sign_resources("m", serialization, {name: Resource(name, "0" * 64)}, KEY)
    assert reason_of(lambda: verify_local(model, bundle, trusted(), NOW)) == "UnsafePath"


def test_symlinks_allowed_by_signature_must_stay_inside(model: Path) -> None:
    os.symlink("config.json", model / "alias.json")
    bundle = sign(model, KEY, allow_symlinks=True)
    assert verify_local(model, bundle, trusted(), NOW).files == 5
    (model / "alias.json").unlink()
    os.symlink("/etc/hostname", model / "alias.json")
    assert reason_of(lambda: verify_local(model, bundle, trusted(), NOW)) == "SymlinkEscapes"


def test_pinned_digest_must_match(model: Path) -> None:
    bundle = sign(model, KEY)
    assert (
        reason_of(lambda: verify_local(model, bundle, trusted(), NOW, expect_digest="sha256:" + "0" * 64))
        == "UnexpectedDigest"
    )


def test_shard_serialization_verifies_and_detects_tampering(model: Path) -> None:
    bundle = sign(model, KEY, shard_size=65_536)
    statement = json.loads(base64.b64decode(json.loads(bundle)["dsseEnvelope"]["payload"]))
    names = [r["name"] for r in statement["predicate"]["resources"]]
    assert "weights/model-00001.safetensors:262144:300000" in names
    assert verify_local(model, bundle, trusted(), NOW).files == 4
    flip_byte(model / "weights/model-00001.safetensors", 270_000)
    assert reason_of(lambda: verify_local(model, bundle, trusted(), NOW)) == "DigestMismatch"


@pytest.mark.parametrize("curve", ["p256", "p384", "p521"])
def test_all_supported_curves(model: Path, curve: crypto.Curve) -> None:
    key = KeyPair.generate(curve)
    assert verify_local(model, sign(model, key), trusted(key), NOW).signer == "publisher"


def test_detached_signature_over_single_file(tmp_path: Path) -> None:
    artifact = tmp_path / "model.gguf"
    artifact.write_bytes(os.urandom(100_000))
    import hashlib

    digest = hashlib.sha256(artifact.read_bytes()).digest()
    private = crypto.load_private_key(KEY.private_pem)
    signature = base64.b64encode(crypto.sign_detached(private, digest))
    result = verify_local(artifact, signature, trusted(), NOW, format="detached")
    assert result.digest == "sha256:" + digest.hex() and result.signer == "publisher"
    assert reason_of(lambda: verify_local(artifact, signature, trusted(OTHER), NOW, format="detached")) == (
        "SignatureInvalid"
    )
    flip_byte(artifact, 5)
    assert reason_of(lambda: verify_local(artifact, signature, trusted(), NOW, format="detached")) == (
        "SignatureInvalid"
    )
    assert reason_of(lambda: verify_local(tmp_path, signature, trusted(), NOW, format="detached")) == (
        "UnsupportedSource"
    )


def test_the_init_container_command_verifies_a_detached_signature_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, class 9: the init container fetches the one artifact into the model directory and verifies
    that file (it used to hand the directory to the detached check, which refused it)."""
    import hashlib

    from modelguard.cli.main import main as cli

    source = tmp_path / "published" / "model.gguf"
    source.parent.mkdir()
    source.write_bytes(os.urandom(50_000))
    digest = hashlib.sha256(source.read_bytes()).digest()
    signature = tmp_path / "model.sig"
    signature.write_bytes(base64.b64encode(crypto.sign_detached(crypto.load_private_key(KEY.private_pem), digest)))
    key = tmp_path / "publisher.pem"
    key.write_bytes(KEY.public_pem)
    models = tmp_path / "models"
    args = [
        "verify", "--key", str(key), "--signature", str(signature), "--format", "detached",
        "--expect-digest", "sha256:" + digest.hex(), "--source", f"file://{source}", "--fetch-into", str(models),
        "--file-root", str(source.parent), "--quiet", str(models),
    ]  # fmt: skip
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("verified sha256:" + digest.hex())
    fingerprint = "sha256:" + crypto.key_hint(crypto.load_public_key(KEY.public_pem))[:16]
    assert f" signer={fingerprint} " in out  # not "publisher", the file's name
    named = [f"publisher-2026={key}" if a == str(key) else a for a in args]
    assert cli(named) == 0
    assert " signer=publisher-2026 " in capsys.readouterr().out
    assert (models / "model.gguf").read_bytes() == source.read_bytes()
    signature.write_bytes(pack_signature(signature.read_bytes()))  # as the operator ships it
    assert cli(args) == 0
    capsys.readouterr()
    flip_byte(source, 10)
    assert cli(args) == 1
    assert "not verified" in capsys.readouterr().out


def test_the_pinned_digest_binds_file_names(tmp_path: Path) -> None:
    """Issue 13, class 8: the same bytes under another name (a .safetensors file renamed to .bin, which a loader
    opens with pickle) keep the format's subject digest, since the name order is unchanged; the pin changes,
    so a pod verifying against the pinned digest refuses the renamed model even with a valid signature."""
    model = tmp_path / "m"
    model.mkdir()
    (model / "a.safetensors").write_bytes(os.urandom(4096))
    (model / "b.json").write_text('{"architectures": ["x"]}')
    original = verify_local(model, sign(model, KEY), trusted(), NOW)
    first = statement_of(sign(model, KEY))
    (model / "a.safetensors").rename(model / "a.bin")
    renamed_signature = sign(model, KEY)  # the publisher really signed this one too
    renamed = statement_of(renamed_signature)
    assert renamed.subject_digest == first.subject_digest  # the format's digest cannot tell them apart
    assert renamed.digest != first.digest == original.digest
    with pytest.raises(VerificationError) as refused:
        verify_local(model, renamed_signature, trusted(), NOW, expect_digest=original.digest)
    assert refused.value.reason == "UnexpectedDigest"


def statement_of(bundle: bytes) -> SignedManifest:
    return parse_statement(parse_bundle(bundle).payload)


def test_a_dsse_signature_never_verifies_as_a_detached_one(tmp_path: Path) -> None:
    """Issue 13, class 8: DSSE signs SHA-256 of the pre-authentication encoding (PAE) with the same key type
    a detached signature uses over SHA-256 of a file. A "model" whose bytes are the PAE of a statement the
    publisher signed, with the envelope's signature presented as detached, must not verify; nor a detached
    signature as a bundle."""
    model = tmp_path / "m"
    model.mkdir()
    (model / "weights.bin").write_bytes(os.urandom(1024))
    bundle = parse_bundle(sign(model, KEY))
    crafted = tmp_path / "crafted.bin"
    crafted.write_bytes(pae(PAYLOAD_TYPE, bundle.payload))
    detached = base64.b64encode(bundle.signature)
    with pytest.raises(VerificationError) as refused:
        verify_local(crafted, detached, trusted(), NOW, format="detached")
    assert refused.value.reason == "SignatureFormatConfusion"
    assert reason_of(lambda: verify_local(model, detached, trusted(), NOW)) == "MalformedSignature"


def der_signature_ending_in(last: int, digest: bytes) -> bytes:
    """A valid ECDSA DER signature over `digest` whose last byte is `last` (ECDSA signatures are random:
    sign until one ends so; about one in 256 does)."""
    private = crypto.load_private_key(KEY.private_pem)
    while True:
        der = crypto.sign_detached(private, digest)
        if der[-1] == last:
            return der


@pytest.mark.parametrize("last", [0x20, 0x0A, 0x09, 0x0D, 0x0B, 0x0C], ids=["space", "lf", "tab", "cr", "vt", "ff"])
def test_a_der_signature_ending_in_a_whitespace_byte_verifies_as_detached(tmp_path: Path, last: int) -> None:
    """Issue 28 item 5: `openssl dgst -sha256 -sign` writes raw DER, and about 2 % of valid signatures end in a
    byte that is whitespace. They were stripped before the DER check and refused (SignatureInvalid). One decoder
    reads the file on every side: the operator (local and remote sources) and the pods (`modelguard verify`)."""
    import hashlib

    from modelguard.adapters.http import HttpClient
    from modelguard.adapters.sources import Fetch, SourceSettings, verify_source
    from modelguard.cli.main import main as cli
    from tests.harness.certs import LocalCA
    from tests.harness.servers import HttpsFileServer

    artifact = tmp_path / "published" / "model.gguf"
    artifact.parent.mkdir()
    artifact.write_bytes(os.urandom(10_000))
    digest = hashlib.sha256(artifact.read_bytes()).digest()
    der = der_signature_ending_in(last, digest)
    pinned = "sha256:" + digest.hex()
    assert verify_local(artifact, der, trusted(), NOW, format="detached").digest == pinned
    assert crypto.decode_detached(der) == der
    assert crypto.decode_detached(base64.b64encode(der) + b"\n") == der  # cosign's base64, with its newline
    assert crypto.decode_detached(der + b"\n") == der  # whitespace after a whole DER value is not part of it
    (tmp_path / "model.sig").write_bytes(der)
    (tmp_path / "publisher.pem").write_bytes(KEY.public_pem)
    args = ["verify", "--key", str(tmp_path / "publisher.pem"), "--signature", str(tmp_path / "model.sig")]
    args += ["--format", "detached", "--expect-digest", pinned, "--quiet", str(artifact)]
    assert cli(args) == 0  # the pods
    ca = LocalCA.create("der-test-ca")
    server = HttpsFileServer(artifact.parent, ca, tmp_path).start()
    try:
        import ssl

        context = ssl.create_default_context(cadata=ca.pem.decode())
        settings = SourceSettings(HttpClient(context, timeout=5))
        request = Fetch(f"{server.url}/model.gguf", "detached", trusted(), NOW)
        assert verify_source(request, der, settings).digest == pinned  # the operator, a remote source
    finally:
        server.stop()
    with pytest.raises(VerificationError) as refused:
        crypto.decode_detached(der[:-1])  # a DER value cut short is malformed, not a signature that fails
    assert refused.value.reason == "MalformedSignature"

"""Interoperability with the OpenSSF reference implementation (PyPI model-signing 1.1.1), both ways:
its CLI for file serialization, its Python API for shard serialization."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import model_signing
import pytest

from modelguard.adapters.verifier import verify_local
from modelguard.domain.errors import VerificationError
from modelguard.domain.trust import TrustedKey
from tests.harness.models import KeyPair, flip_byte, write_model

NOW = datetime.now(UTC)
MODEL_SIGNING = str(Path(sys.executable).parent / "model_signing")
MODELGUARD = str(Path(sys.executable).parent / "modelguard")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path, KeyPair]:
    model = write_model(tmp_path / "model")
    key = KeyPair.generate()
    private, public = key.write(tmp_path / "keys")
    return model, private, public, key


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def test_signed_by_model_signing_cli_verifies_in_modelguard(
    setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path
) -> None:
    model, private, public, _ = setup
    sig = tmp_path / "model.sig"
    assert (
        run(MODEL_SIGNING, "sign", "key", str(model), "--private_key", str(private), "--signature", str(sig)).returncode
        == 0
    )
    result = run(MODELGUARD, "verify", "--key", str(public), "--signature", str(sig), str(model))
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("verified sha256:")
    flip_byte(model / "config.json", 3)
    result = run(MODELGUARD, "verify", "--key", str(public), "--signature", str(sig), str(model))
    assert result.returncode == 1
    assert (
        result.stdout.strip() == "not verified: DigestMismatch: 1 file(s) differ from what was signed, "
        "e.g. 'config.json'"
    )


def test_signed_by_modelguard_cli_verifies_in_model_signing(
    setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path
) -> None:
    model, private, public, _ = setup
    sig = tmp_path / "model.sig"
    assert run(MODELGUARD, "sign", "--key", str(private), "--signature", str(sig), str(model)).returncode == 0
    result = run(MODEL_SIGNING, "verify", "key", str(model), "--public_key", str(public), "--signature", str(sig))
    assert result.returncode == 0, result.stdout + result.stderr
    (model / "extra.bin").write_bytes(b"x")
    result = run(MODEL_SIGNING, "verify", "key", str(model), "--public_key", str(public), "--signature", str(sig))
    assert result.returncode != 0


def test_signature_inside_model_directory_is_ignored_both_ways(setup: tuple[Path, Path, Path, KeyPair]) -> None:
    model, private, public, _ = setup
    sig = model / "model.sig"
    assert run(MODELGUARD, "sign", "--key", str(private), "--signature", str(sig), str(model)).returncode == 0
    assert (
        run(MODEL_SIGNING, "verify", "key", str(model), "--public_key", str(public), "--signature", str(sig)).returncode
        == 0
    )
    assert run(MODELGUARD, "verify", "--key", str(public), "--signature", str(sig), str(model)).returncode == 0


def test_shard_serialization_interoperates_both_ways(setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path) -> None:
    model, private, public, key = setup
    theirs = tmp_path / "theirs.sig"
    hashing = model_signing.hashing.Config().use_shard_serialization(shard_size=100_000)
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private).set_hashing_config(hashing).sign(
        model, theirs
    )
    assert verify_local(model, theirs.read_bytes(), [TrustedKey("k", key.public_pem)], NOW).files == 4

    ours = tmp_path / "ours.sig"
    assert (
        run(
            MODELGUARD, "sign", "--key", str(private), "--signature", str(ours), "--shard-size", "100000", str(model)
        ).returncode
        == 0
    )
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, ours)

    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    flip_byte(copy / "weights/model-00001.safetensors", 250_000)
    with pytest.raises(ValueError, match="Signature mismatch"):
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public).verify(copy, ours)
    with pytest.raises(VerificationError, match="DigestMismatch"):
        verify_local(copy, theirs.read_bytes(), [TrustedKey("k", key.public_pem)], NOW)


def test_a_single_file_model_verifies_both_ways_and_keeps_its_name(
    setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path
) -> None:
    """model_signing names the one resource of a single-file model "." (issue 16): it verifies here (the file is
    the subject's name), and what ModelGuard signs for one file verifies in model_signing."""
    _, private, public, _ = setup
    artifact = tmp_path / "model.gguf"
    artifact.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    theirs, ours = tmp_path / "theirs.sig", tmp_path / "ours.sig"
    signed = run(MODEL_SIGNING, "sign", "key", str(artifact), "--private_key", str(private), "--signature", str(theirs))
    assert signed.returncode == 0, signed.stderr
    assert run(MODELGUARD, "verify", "--key", str(public), "--signature", str(theirs), str(artifact)).returncode == 0
    assert run(MODELGUARD, "sign", "--key", str(private), "--signature", str(ours), str(artifact)).returncode == 0
    checked = run(MODEL_SIGNING, "verify", "key", str(artifact), "--public_key", str(public), "--signature", str(ours))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    renamed = tmp_path / "model.bin"  # the same bytes under a name a loader opens with pickle
    shutil.copy(artifact, renamed)
    result = run(MODELGUARD, "verify", "--key", str(public), "--signature", str(theirs), str(renamed))
    assert result.returncode == 1 and "MissingFile" in result.stdout


def test_ignored_paths_and_a_signature_inside_the_model_are_honoured(
    setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path
) -> None:
    model, private, public, _ = setup
    (model / "notes.txt").write_text("not part of the model")
    inside = model / "model.sig"
    signed = run(
        MODEL_SIGNING, "sign", "key", str(model), "--private_key", str(private), "--signature", str(inside),
        "--ignore-paths", str(model / "notes.txt"),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    result = run(MODELGUARD, "verify", "--key", str(public), "--signature", str(inside), str(model))
    assert result.returncode == 0, result.stdout  # neither the notes nor the signature count as unsigned
    (model / "notes.txt").write_text("changed: still ignored")
    assert run(MODELGUARD, "verify", "--key", str(public), "--signature", str(inside), str(model)).returncode == 0
    (model / "new.bin").write_bytes(b"x")
    result = run(MODELGUARD, "verify", "--key", str(public), "--signature", str(inside), str(model))
    assert result.returncode == 1 and "UnsignedFile" in result.stdout


def test_verify_takes_ignore_paths_as_model_signing_does(
    setup: tuple[Path, Path, Path, KeyPair], tmp_path: Path
) -> None:
    """--ignore-paths at verification (absolute or relative to the working directory), and a signature copied
    into the model directory after signing, are left out in both tools."""
    model, private, public, _ = setup
    outside = tmp_path / "model.sig"
    assert run(MODELGUARD, "sign", "--key", str(private), "--signature", str(outside), str(model)).returncode == 0
    inside = model / "model.sig"
    shutil.copy(outside, inside)  # not recorded as ignored: it was signed elsewhere
    (model / "README.local").write_text("added after signing")
    for tool in ("modelguard", "model_signing"):
        if tool == "modelguard":
            base = [MODELGUARD, "verify", "--key", str(public), "--signature", str(inside)]
        else:
            base = [MODEL_SIGNING, "verify", "key", "--public_key", str(public), "--signature", str(inside)]
        refused = run(*base, str(model))
        assert refused.returncode != 0, tool  # README.local is not signed
        accepted = run(*base, "--ignore-paths", str(model / "README.local"), str(model))
        assert accepted.returncode == 0, (tool, accepted.stdout, accepted.stderr)

"""Small things a publisher trips over (issue 16 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from modelguard.cli.main import main as cli
from modelguard.domain import crypto
from tests.harness.models import KeyPair, sign, write_model


def test_keygen_refuses_to_overwrite_keys_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "keys"
    assert cli(["keygen", "--out", str(out)]) == 0
    first = (out / "private.pem").read_bytes()
    assert (out / "private.pem").stat().st_mode & 0o777 == 0o600
    capsys.readouterr()
    assert cli(["keygen", "--out", str(out)]) == 1
    assert "already exist" in capsys.readouterr().err
    assert (out / "private.pem").read_bytes() == first  # nothing lost
    assert cli(["keygen", "--out", str(out), "--force"]) == 0
    assert (out / "private.pem").read_bytes() != first
    assert (out / "private.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("given", ["private", "encrypted", "garbage", "missing"])
def test_a_wrong_key_file_says_what_is_wrong_not_unknown_signer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    key = KeyPair.generate()
    model = write_model(tmp_path / "model")
    (tmp_path / "model.sig").write_bytes(sign(model, key))
    path = tmp_path / "key.pem"
    private = crypto.load_private_key(key.private_pem)
    if given == "private":
        path.write_bytes(key.private_pem)
    elif given == "encrypted":
        path.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
    elif given == "garbage":
        path.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert cli(["verify", "--key", str(path), "--signature", str(tmp_path / "model.sig"), str(model)]) == 1
    out = capsys.readouterr().out
    expected = {
        "private": "is a private key; --key takes the public key",
        "encrypted": "is an encrypted private key",
        "garbage": "not a valid PEM public key",
        "missing": "Unreadable",
    }[given]
    assert expected in out and "UnknownSigner" not in out and str(path) in out, out

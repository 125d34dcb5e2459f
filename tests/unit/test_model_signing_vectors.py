"""Every bundle format model_signing 1.1.1 reads, as its own releases signed them (issue 16 item 1):
model_signing 0.2.0 to 1.1.0, with a key and with a certificate (tests/data/model_signing_vectors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelguard.cli.main import main as cli

VECTORS = Path(__file__).resolve().parents[1] / "data" / "model_signing_vectors"
CASES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir() and p.name != "keys")


def test_every_release_is_covered() -> None:
    versions = {c.split("-", 1)[0] for c in CASES}
    assert versions == {"v0.2.0", "v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0"}
    assert {c.split("-", 1)[1] for c in CASES} == {"certificate", "elliptic-key"}


@pytest.mark.parametrize("case", CASES)
def test_a_release_signature_verifies_and_a_changed_byte_does_not(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / case
    shutil.copytree(VECTORS / case, model)
    signature = model / "model.sig"  # inside the model, as the releases wrote it
    trust = (
        ["--certificate-chain", f"test-ca={VECTORS / 'keys' / 'ca-cert.pem'}"]
        if case.endswith("certificate")
        else ["--key", f"test-key={VECTORS / 'keys' / 'signing-key-pub.pem'}"]
    )
    ignore = ["--ignore-paths", str(model / "ignore-me")] if (model / "ignore-me").exists() else []
    args = ["verify", *trust, *ignore, "--signature", str(signature), str(model)]
    assert cli(args) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.startswith("verified sha256:")
    assert (" signer=test-ca:CN=" if case.endswith("certificate") else " signer=test-key ") in out
    with (model / "signme-1").open("ab") as f:
        f.write(b"!")
    assert cli(args) == 1
    assert "not verified: DigestMismatch" in capsys.readouterr().out

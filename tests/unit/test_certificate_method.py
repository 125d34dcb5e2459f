"""The certificate method (issue 16): a signing certificate in the bundle chaining to trusted CA certificates,
verified with cryptography's X.509 path validation, interoperable with model_signing 1.1.1 both ways."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelguard.cli.main import main as cli
from modelguard.domain.errors import VerificationError
from modelguard.domain.trust import TrustedCA, authenticate_chain
from tests.harness.models import flip_byte, write_model
from tests.harness.pki import issue

MODEL_SIGNING = str(Path(sys.executable).parent / "model_signing")


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    root = issue("Models Root CA", ca=True)
    intermediate = issue("Models Issuing CA", root, ca=True)
    leaf = issue("publisher@example.com", intermediate)
    out = tmp_path / "pki"
    paths = {
        "root": root.write(out, "root")[0],
        "intermediate": intermediate.write(out, "intermediate")[0],
    }
    paths["leaf"], paths["leaf_key"] = leaf.write(out, "leaf")
    paths["model"] = write_model(tmp_path / "model")
    return paths


def ms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODEL_SIGNING, *args], capture_output=True, text=True, timeout=120, check=False)


def test_model_signing_signs_with_a_certificate_and_modelguard_verifies(
    pki: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig = tmp_path / "model.sig"
    signed = ms(
        "sign", "certificate", "--private_key", str(pki["leaf_key"]), "--signing_certificate", str(pki["leaf"]),
        "--certificate_chain", str(pki["intermediate"]), "--signature", str(sig), str(pki["model"]),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert (
        cli(["verify", "--certificate-chain", f"models-root={pki['root']}", "--signature", str(sig), str(pki["model"])])
        == 0
    )
    assert " signer=models-root:CN=publisher@example.com " in capsys.readouterr().out
    # another root: the chain leads nowhere trusted
    other = issue("Another Root", ca=True).write(tmp_path / "other", "root")[0]
    assert cli(["verify", "--certificate-chain", str(other), "--signature", str(sig), str(pki["model"])]) == 1
    assert "not verified: UntrustedCertificate" in capsys.readouterr().out
    flip_byte(pki["model"] / "config.json", 3)
    assert cli(["verify", "--certificate-chain", str(pki["root"]), "--signature", str(sig), str(pki["model"])]) == 1
    assert "not verified: DigestMismatch" in capsys.readouterr().out


def test_modelguard_signs_with_a_certificate_and_model_signing_verifies(
    pki: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig = tmp_path / "model.sig"
    assert cli([
        "sign", "--key", str(pki["leaf_key"]), "--signing-certificate", str(pki["leaf"]),
        "--certificate-chain", str(pki["intermediate"]), "--signature", str(sig), str(pki["model"]),
    ]) == 0  # fmt: skip
    checked = ms(
        "verify", "certificate", "--certificate_chain", str(pki["root"]), "--signature", str(sig), str(pki["model"])
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    capsys.readouterr()
    assert cli(["verify", "--certificate-chain", str(pki["root"]), "--signature", str(sig), str(pki["model"])]) == 0
    # the wrong certificate for the key is refused at signing
    stranger = issue("someone-else", issue("x", ca=True)).write(tmp_path / "s", "leaf")[0]
    assert cli(["sign", "--key", str(pki["leaf_key"]), "--signing-certificate", str(stranger),
                "--signature", str(tmp_path / "x.sig"), str(pki["model"])]) == 1  # fmt: skip
    assert "is not the certificate of --key" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["not-for-signing", "issued-after-the-ca-expired", "ca-revoked", "key-only"])
def test_refused_chains(tmp_path: Path, case: str) -> None:
    from cryptography.hazmat.primitives import serialization

    now = datetime.now(UTC)
    root = issue("Root", ca=True, not_before=now - timedelta(days=400), days=300 if case != "ca-revoked" else 900)
    if case == "not-for-signing":
        leaf = issue("tls-only", root, may_sign=False)
    elif case == "issued-after-the-ca-expired":
        leaf = issue("late", root)  # its start of validity is after the root's end
    else:
        leaf = issue("publisher", root)
    chain = [leaf.cert.public_bytes(serialization.Encoding.DER)]
    ca = TrustedCA(id="root", pem=root.cert_pem(), revoked=case == "ca-revoked")
    with pytest.raises(VerificationError) as refused:
        authenticate_chain([] if case == "key-only" else [ca], chain, lambda _: True, now)
    expected = {
        "not-for-signing": "UntrustedCertificate",
        "issued-after-the-ca-expired": "UntrustedCertificate",
        "ca-revoked": "KeyRevoked",
        "key-only": "UnknownSigner",
    }[case]
    assert refused.value.reason == expected, refused.value.message

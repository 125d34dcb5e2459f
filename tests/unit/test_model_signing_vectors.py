"""Every bundle format model_signing 1.1.1 reads, as its own releases signed them (issue 16 item 1):
model_signing 0.2.0 to 1.1.0, with a key and with a certificate (tests/data/model_signing_vectors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelguard.cli.main import main as cli

VECTORS = Path(__file__).resolve().parents[1] / "data" / "model_signing_vectors"
CASES = sorted(p.name for p in VECTORS.iterdir() if p.is_dir() and p.name != "keys" and "sigstore" not in p.name)
KEYLESS = sorted(p.name for p in VECTORS.iterdir() if p.name.endswith("-sigstore"))
IDENTITY = ["--identity", "stefanb@us.ibm.com", "--identity-provider", "https://sigstore.verify.ibm.com/oauth2"]


def test_every_release_is_covered() -> None:
    assert {c.split("-", 1)[0] for c in KEYLESS} == {"v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0"}
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


def _keyless(case: str, tmp_path: Path) -> tuple[Path, list[str]]:
    model = tmp_path / case
    shutil.copytree(VECTORS / case, model)
    ignore = ["--ignore-paths", str(model / "ignore-me")] if (model / "ignore-me").exists() else []
    return model, [*ignore, "--signature", str(model / "model.sig"), str(model)]


@pytest.mark.parametrize("case", KEYLESS)
def test_sigstore_keyless_bundles_verify_offline_bound_to_identity_and_issuer(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real public-good Sigstore bundles (Fulcio certificate, Rekor inclusion proof, checkpoint and signed entry
    timestamp) verify with no network, against the trust root sigstore-python ships (issue 16)."""
    model, rest = _keyless(case, tmp_path)
    assert cli(["verify", *IDENTITY, *rest]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert " signer=sigstore:stefanb@us.ibm.com issuer=https://sigstore.verify.ibm.com/oauth2 logIndex=" in out
    wrong_identity = ["--identity", "mallory@example.com", *IDENTITY[2:]]
    wrong_issuer = [*IDENTITY[:2], "--identity-provider", "https://accounts.google.com"]
    for trust in (wrong_identity, wrong_issuer):  # everything verifies but who signed: not trusted
        assert cli(["verify", *trust, *rest]) == 1
        refused = capsys.readouterr().out
        assert refused.startswith("not verified: UnknownSigner: the certificate names stefanb@us.ibm.com"), refused
    with (model / "signme-1").open("ab") as f:
        f.write(b"!")
    assert cli(["verify", *IDENTITY, *rest]) == 1
    assert "not verified: DigestMismatch" in capsys.readouterr().out


@pytest.mark.parametrize(
    "forge",
    ["inclusion-proof", "checkpoint", "signed-entry-timestamp", "integrated-time", "certificate", "untrusted-root"],
)
def test_a_forged_log_entry_or_another_trust_root_is_refused(
    forge: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import json

    model, rest = _keyless("v1.1.0-sigstore", tmp_path)
    bundle = json.loads((model / "model.sig").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    extra: list[str] = []
    if forge == "inclusion-proof":
        first = base64.b64decode(entry["inclusionProof"]["hashes"][0])
        entry["inclusionProof"]["hashes"][0] = base64.b64encode(bytes([first[0] ^ 1]) + first[1:]).decode()
    elif forge == "checkpoint":
        entry["inclusionProof"]["checkpoint"]["envelope"] = entry["inclusionProof"]["checkpoint"]["envelope"].replace(
            str(entry["inclusionProof"]["treeSize"]), str(int(entry["inclusionProof"]["treeSize"]) + 1), 1
        )
    elif forge == "signed-entry-timestamp":
        set_ = base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"])
        entry["inclusionPromise"]["signedEntryTimestamp"] = base64.b64encode(
            set_[:-2] + bytes([set_[-2] ^ 1, set_[-1]])
        ).decode()
    elif forge == "integrated-time":  # a signing time outside the certificate's ten minutes
        entry["integratedTime"] = str(int(entry["integratedTime"]) + 3600)
    elif forge == "certificate":
        cert = bundle["verificationMaterial"]["certificate"]["rawBytes"]
        raw = base64.b64decode(cert)
        bundle["verificationMaterial"]["certificate"]["rawBytes"] = base64.b64encode(
            raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:]
        ).decode()
    else:  # Sigstore's staging instance: a trust root this bundle does not chain to
        staging = _shipped_trust_config("tuf-repo-cdn.sigstage.dev", tmp_path)
        extra = ["--trust-config", str(staging)]
    (model / "model.sig").write_text(json.dumps(bundle))
    assert cli(["verify", *IDENTITY, *extra, *rest]) == 1
    out = capsys.readouterr().out
    why = {
        "inclusion-proof": "inclusion proof",
        "checkpoint": "checkpoint: invalid signature",
        "signed-entry-timestamp": "SET: invalid inclusion promise",
        "integrated-time": "not valid at validation time",
        "certificate": "signature does not match",
        "untrusted-root": "signature does not match",
    }[forge]
    assert out.startswith("not verified: SignatureInvalid: Sigstore verification failed") and why in out, out


def _shipped_trust_config(host: str, tmp_path: Path) -> Path:
    """A client trust configuration made of the trusted root and signing config sigstore-python ships."""
    import json

    import sigstore

    store = Path(sigstore.__file__).parent / "_store" / f"https%3A%2F%2F{host}"
    doc = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads((store / "trusted_root.json").read_text()),
        "signingConfig": json.loads((store / "signing_config.v0.2.json").read_text()),
    }
    path = tmp_path / f"{host}.json"
    path.write_text(json.dumps(doc))
    return path


def test_without_sigstore_python_keyless_is_refused_with_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    for name in [m for m in sys.modules if m == "sigstore" or m.startswith("sigstore.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sigstore", None)  # not installed: the import raises ImportError
    _, rest = _keyless("v1.1.0-sigstore", tmp_path)
    assert cli(["verify", *IDENTITY, *rest]) == 1
    assert "pip install 'modelguard[sigstore]'" in capsys.readouterr().out

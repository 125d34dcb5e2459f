"""`modelguard inspect`, the pods' inspection (`modelguard verify --inspect`, the init containers' command) and
the operator's (verify_source with the TrustPolicy's rules) give the same refusal for every hostile file
(issue 27 item 8): one engine, one reading of the rules."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelguard.adapters.http import HttpClient
from modelguard.adapters.sources import Fetch, SourceSettings, verify_source
from modelguard.cli.main import main as cli
from modelguard.domain import model_verdicts
from modelguard.domain.inspection import Rules
from modelguard.domain.trust import TrustedKey
from tests.harness import hostile_files as hostile
from tests.harness import model_corpus
from tests.harness.models import KeyPair, sign

KEY = KeyPair.generate()
FORMATS = "safetensors,json,text,gguf,numpy,keras,zip"  # what the files claim to be is allowed: content decides
HOSTILE = {
    "notes.txt": hostile.pickle_then_breakage(),
    "model.bin": model_corpus.torch_zip(hostile.pickle_then_breakage(), "model/weights"),
    "broken.pt": hostile.undecompressable_zip(),
    "object.npy": hostile.npy_object_spelled_out(),
    "structured.npy": hostile.npy_structured_object_field(),
    "arrays.npz": hostile.npz({"w.npy": hostile.npy_reordered_object()}),
    "model.gguf": hostile.gguf_with_template(hostile.CVE_2024_34359),
    "model.keras": hostile.keras_builtins_exec(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_cli_the_pods_and_the_operator_refuse_alike(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / name).write_bytes(HOSTILE[name])
    (model / "config.json").write_bytes(b'{"hidden_size": 2}')
    signature, key = tmp_path / "model.sig", tmp_path / "publisher.pem"
    signature.write_bytes(sign(model, KEY))
    key.write_bytes(KEY.public_pem)
    rules = ["--allow-formats", FORMATS, "--refuse-pickles"]

    assert cli(["inspect", *rules, str(model)]) == 1
    by_cli = [line.removeprefix("refused ") for line in capsys.readouterr().out.splitlines()]

    assert (
        cli(["verify", "--key", str(key), "--signature", str(signature), "--quiet", "--inspect", *rules, str(model)])
        == 1
    )
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith("not verified: UnsafeFiles: "), said
    by_pod = said.removeprefix("not verified: UnsafeFiles: ")

    parsed = Rules.parse(FORMATS, refuse_pickles=True)
    request = Fetch(
        f"file://{model}", "model-signing", [TrustedKey("k", KEY.public_pem)], datetime.now(UTC), inspect=parsed
    )
    settings = SourceSettings(HttpClient(ssl.create_default_context()), (tmp_path,))
    verified = verify_source(request, signature.read_bytes(), settings)
    assert verified.inspection is not None
    by_operator = model_verdicts.inspection_record(verified.inspection, parsed, datetime.now(UTC)).findings

    assert len(by_cli) == 1 and by_cli[0].startswith(f"{name} ("), by_cli
    assert by_pod == by_cli[0] and by_operator == by_cli

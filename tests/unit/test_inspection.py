"""Model file inspection on the corpus (issue 17): every malicious sample is refused with a finding that says
what it would do, every benign one passes; formats are told by content; the policy's rules apply."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest

from modelguard.adapters.inspector import inspect_file, inspect_model
from modelguard.cli.main import main as cli
from modelguard.domain import pickle_globals
from modelguard.domain.inspection import TENSOR_GLOBALS, Rules, findings
from tests.harness import model_corpus
from tests.harness.model_corpus import corpus, write_corpus

SAMPLES = {s.name: s for s in corpus()}
EVERY_FORMAT = Rules.parse("all")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_corpus_sample_is_refused_or_passed_as_it_should(name: str, tmp_path: Path) -> None:
    sample = SAMPLES[name]
    (tmp_path / name).write_bytes(sample.data)
    found = findings(inspect_file(tmp_path / name, name), EVERY_FORMAT)
    assert bool(found) is sample.malicious, (sample.why, found)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("reduce-p2.bin", "would import posix.system"),
        ("stack-global-memo.pkl", "would import os.system"),  # the strings on the stack, not the opcodes before
        ("inst-p0.data", "would import os.system"),
        ("pip-main.pkl", "would import pip.main"),  # an allowlist refuses what no denylist names
        ("ext-registry.pkl", "extension code 1"),
        ("torch-odd-member.bin", "in model/weights"),
        ("torch-bad-crc.pt", "cannot be read"),
        ("object-array.npy", "would import posix.system in object array"),
        ("gzipped.pkl.gz", "would import posix.system"),
        ("keras-lambda.keras", "Lambda layer"),
        ("safetensors-outside.safetensors", "lies outside the file"),
        ("safetensors-overlap.safetensors", "overlaps another"),
        ("random.safetensors", "unknown content"),
    ],
)
def test_a_finding_says_what_loading_would_do(name: str, says: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(SAMPLES[name].data)
    found = "; ".join(findings(inspect_file(tmp_path / name, name), EVERY_FORMAT))
    assert says in found, found


def test_formats_are_told_by_content_not_name(tmp_path: Path) -> None:
    reports = {r.path: r.format for r in inspect_model(write_corpus(tmp_path) and tmp_path)}
    assert reports["reduce-p5.pt"] == "pickle" and reports["reduce-p2.bin"] == "pickle"
    assert reports["torch-state-dict.pt"] == "pytorch" and reports["torch-odd-member.bin"] == "zip"
    assert reports["random.safetensors"] == "unknown" and reports["plain.safetensors"] == "safetensors"
    assert reports["model.onnx"] == "onnx" and reports["model.gguf"] == "gguf" and reports["config.json"] == "json"


def test_the_default_rules_refuse_every_pickle_and_allow_safe_formats(tmp_path: Path) -> None:
    default = Rules.parse(None)
    (tmp_path / "m.pt").write_bytes(model_corpus.torch_zip(model_corpus.torch_state_dict()))
    assert findings(inspect_file(tmp_path / "m.pt", "m.pt"), default) == ["format pytorch is not allowed"]
    with_pytorch = Rules.parse("safetensors,pytorch")
    assert findings(inspect_file(tmp_path / "m.pt", "m.pt"), with_pytorch) == []  # plain tensors only
    (tmp_path / "w.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))  # a pickle of plain data
    assert findings(inspect_file(tmp_path / "w.pkl", "w.pkl"), Rules.parse("pickle")) == []


def test_an_allowlist_admits_exactly_what_it_names() -> None:
    rules = Rules.parse("pickle", ["mylib.layers.Dense", "trusted.*"])
    assert rules.allows_import("mylib.layers", "Dense") and rules.allows_import("trusted", "anything")
    assert not rules.allows_import("mylib.layers", "Lambda") and not rules.allows_import("os", "system")
    assert "torch._utils._rebuild_tensor_v2" in TENSOR_GLOBALS and "posix.system" not in TENSOR_GLOBALS
    with pytest.raises(ValueError, match="unknown format"):
        Rules.parse("safetensors,exe")


def test_a_pickle_is_never_loaded_to_be_inspected(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = pickle.dumps(model_corpus._Call(marker.write_text, "pwned"), protocol=4)
    scanned = pickle_globals.scan(evil)
    assert ("builtins", "getattr") in scanned.imports  # a bound method: getattr(PosixPath(...), "write_text")
    assert not marker.exists()  # and nothing ran


def test_a_broken_or_endless_pickle_is_a_finding() -> None:
    assert pickle_globals.scan(b"\x80\x04\x8c\x02os\x8c").problems  # cut off mid-string
    assert pickle_globals.scan(b"\x80\x04" + b"N0" * 50 + b"N.", max_opcodes=20).problems == ["more than 20 opcodes"]
    stacked = pickle_globals.scan(b"\x80\x04N\x8c\x06system\x93N.")  # STACK_GLOBAL over a non-string module
    assert stacked.unresolved


def test_trailing_tensor_bytes_after_complete_pickles_are_not_a_pickle() -> None:
    """Legacy torch.save: several pickles back to back, then raw storage bytes."""
    data = pickle.dumps(1, protocol=2) + pickle.dumps({"a": 1}, protocol=2) + b"\xff\xfe" + bytes(100)
    scanned = pickle_globals.scan(data)
    assert scanned.pickles == 2 and scanned.problems == []


def test_safetensors_costs_its_header_only(tmp_path: Path) -> None:
    header = b'{"w": {"dtype": "F32", "shape": [262144, 1024], "data_offsets": [0, 1073741824]}}'
    path = tmp_path / "big.safetensors"
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 1024**3)  # sparse: 1 GiB of tensor data
    report = inspect_file(path, path.name)
    assert report.format == "safetensors" and report.problems == []
    assert report.bytes_read <= 64 * 1024  # one read of the head


def test_cli_exit_codes_and_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(SAMPLES["plain.safetensors"].data)
    (model / "config.json").write_bytes(b"{}")
    assert cli(["inspect", str(model)]) == 0
    assert "every file may be loaded" in capsys.readouterr().out
    (model / "extra.bin").write_bytes(SAMPLES["reduce-p2.bin"].data)
    assert cli(["inspect", str(model)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("refused extra.bin (pickle): format pickle is not allowed; would import posix.system")
    assert cli(["inspect", "--allow-formats", "safetensors,nonsense", str(model)]) == 2
    assert cli(["inspect", "--json", "--allow-formats", "all", str(model)]) == 1
    assert '"posix.system"' in capsys.readouterr().out


def _fetch_file(root: Path, paths: tuple[str, ...]) -> list[object]:
    import ssl
    from datetime import UTC, datetime

    from modelguard.adapters.http import HttpClient
    from modelguard.adapters.sources import Fetch, SourceSettings, provider_for

    request = Fetch(f"file://{root}", "model-signing", [], datetime.now(UTC), inspect=Rules.parse(None))
    settings = SourceSettings(HttpClient(ssl.create_default_context()), (root.parent,))
    return provider_for(request.source).inspect(request, paths, settings)  # type: ignore[return-value]


def test_a_signed_name_that_links_to_a_pickle_is_inspected_through_the_link(tmp_path: Path) -> None:
    """Attacker: a model signed with symbolic links allowed names `model.safetensors`, a link to a pickle kept
    under a path the signature ignores. The walk skipped links and the filter kept only signed names, so
    nothing was inspected and the model read as safe."""
    root = tmp_path / "model"
    (root / "ignored").mkdir(parents=True)
    (root / "ignored" / "payload.bin").write_bytes(SAMPLES["reduce-p2.bin"].data)
    (root / "model.safetensors").symlink_to("ignored/payload.bin")
    (root / "config.json").write_bytes(b"{}")
    (tmp_path / "outside.pkl").write_bytes(SAMPLES["reduce-p2.bin"].data)
    (root / "escape.bin").symlink_to(tmp_path / "outside.pkl")
    reports = {r.path: r for r in _fetch_file(root, ("model.safetensors", "config.json", "escape.bin"))}  # type: ignore[attr-defined]
    assert set(reports) == {"model.safetensors", "config.json", "escape.bin"}
    assert any("posix.system" in f for f in findings(reports["model.safetensors"], Rules.parse("all")))
    assert "leads outside the model directory" in findings(reports["escape.bin"], Rules.parse("all"))[-1]
    assert findings(reports["config.json"], Rules.parse(None)) == []


def test_a_safetensors_header_naming_a_tensor_twice_is_refused(tmp_path: Path) -> None:
    """Attacker: two entries for one tensor; Python keeps the last, another loader may keep the first."""
    header = (
        b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
        b'"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    )
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 4)
    report = inspect_file(tmp_path / "m.safetensors", "m.safetensors")
    assert report.format == "safetensors" and "duplicate key 'w'" in "; ".join(report.problems)


def test_a_protocol_0_pickle_in_an_oddly_named_zip_member_is_found(tmp_path: Path) -> None:
    """Attacker: no PROTO header (so no magic number) and no .pkl name inside the archive."""
    (tmp_path / "m.bin").write_bytes(model_corpus.torch_zip(model_corpus.protocol0_inst(), "model/weights"))
    found = findings(inspect_file(tmp_path / "m.bin", "m.bin"), Rules.parse("all"))
    assert any("would import os.system in model/weights" in f for f in found), found


def test_a_keras_module_that_merely_starts_with_keras_is_foreign(tmp_path: Path) -> None:
    layer = {"class_name": "Dense", "config": {"name": "d"}, "module": "kerasevil.layers"}
    (tmp_path / "m.keras").write_bytes(model_corpus.keras([layer]))
    found = findings(inspect_file(tmp_path / "m.keras", "m.keras"), Rules.parse("all"))
    assert found == ["custom object 'Dense' from module 'kerasevil.layers'"]


@pytest.mark.parametrize(
    ("source", "files", "url"),
    [
        ("https://h/m.bin", ("m.bin",), "https://h/m.bin"),  # the model is the one file
        ("https://h/m.bin/", ("m.bin",), "https://h/m.bin/m.bin"),  # a directory that happens to share its name
        ("https://h/dir", ("a b.json", "w.bin"), "https://h/dir/a%20b.json"),
    ],
)
def test_verification_inspection_and_the_pods_read_one_url_per_file(
    source: str, files: tuple[str, ...], url: str
) -> None:
    from modelguard.adapters.sources.https import file_url

    assert file_url(source, files[0], files) == url


def test_a_signed_file_no_registry_layer_holds_is_a_finding_not_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every signed file is inspected or says why not: a file the artifact does not hold must not drop out."""
    import ssl
    from datetime import UTC, datetime

    from modelguard.adapters.http import HttpClient
    from modelguard.adapters.oci import Layer
    from modelguard.adapters.sources import Fetch, SourceSettings, oci, provider_for

    safe = SAMPLES["plain.safetensors"].data

    class OneLayer:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def layers(self, ref: object) -> list[Layer]:
            return [Layer("sha256:" + "a" * 64, len(safe), "application/octet-stream", "model.safetensors")]

        def blob_range(self, repository: str, digest: str, offset: int, length: int) -> object:
            import io

            class Answer(io.BytesIO):  # what read_limited reads of an http.client response
                status, length = 206, None

            return Answer(safe[offset : offset + length])

    monkeypatch.setattr(oci, "Registry", OneLayer)  # the one place the OCI client is built
    request = Fetch("oci://r.example/m@sha256:" + "b" * 64, "model-signing", [], datetime.now(UTC))
    settings = SourceSettings(HttpClient(ssl.create_default_context()))
    reports = provider_for(request.source).inspect(request, ("model.safetensors", "weights.bin"), settings)
    by_path = {r.path: r for r in reports}
    assert findings(by_path["model.safetensors"], Rules.parse(None)) == []
    assert "no layer holds this signed file" in findings(by_path["weights.bin"], Rules.parse(None))

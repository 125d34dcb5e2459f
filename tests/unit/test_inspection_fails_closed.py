"""Inspection fails closed (issue 27 item 8): an error, an exhausted budget or content a check cannot read is a
finding, never a pass or a fall-through to "text"; formats are read with their own grammars (numpy's header, the
GGUF key/value section, Keras' object references). Every attacker test here passed on the previous engine."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from modelguard.adapters.inspector import inspect_file
from modelguard.domain.inspection import Rules, findings
from tests.harness import hostile_files as hostile
from tests.harness import model_corpus

EVERY_FORMAT = Rules.parse("all")
# the TrustPolicy of the report: text and JSON allowed, `pickles: Refuse`
NO_PICKLES = Rules.parse("safetensors,json,text", refuse_pickles=True)


def _found(tmp_path: Path, name: str, data: bytes, rules: Rules = EVERY_FORMAT) -> list[str]:
    (tmp_path / name).write_bytes(data)
    return findings(inspect_file(tmp_path / name, name), rules)


def test_a_pickle_followed_by_bytes_that_break_the_disassembler_is_not_text(tmp_path: Path) -> None:
    """Attacker: os.system in a protocol-0 pickle, then three opcodes and a broken one. The stream broke, so the
    scan's verdict was dropped and the file (valid UTF-8) was text: allowed, and no pickle to refuse."""
    (tmp_path / "notes.txt").write_bytes(hostile.pickle_then_breakage())
    report = inspect_file(tmp_path / "notes.txt", "notes.txt")
    assert report.format == "pickle" and report.pickled
    found = findings(report, NO_PICKLES)
    assert "holds a pickle, and the TrustPolicy refuses pickles" in found
    assert "would import os.system when loaded" in found


def test_a_pickle_behind_millions_of_no_op_opcodes_is_refused(tmp_path: Path) -> None:
    """Attacker: NONE, POP pairs until the scan gives up, then the pickle. Giving up was a problem of a stream
    that was therefore not a pickle, and the ASCII file was text."""
    found = _found(tmp_path, "README.md", hostile.pickle_behind_noops(), NO_PICKLES)
    assert found and any("opcodes" in f for f in found), found


def test_a_zip_member_whose_scan_breaks_is_a_pickle_not_skipped(tmp_path: Path) -> None:
    """Attacker: the same pickle-then-breakage as an oddly named member of a PyTorch-like zip: skipped."""
    data = model_corpus.torch_zip(hostile.pickle_then_breakage(), "model/weights")
    found = _found(tmp_path, "model.bin", data)
    assert any("would import os.system in model/weights" in f for f in found), found


def test_a_zip_member_that_raises_while_read_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    """Attacker: a deflated member whose data is not deflate: zlib.error escaped the member's handler."""
    found = _found(tmp_path, "model.pt", hostile.undecompressable_zip())
    assert any("archive/data.pkl" in f and "cannot be read" in f for f in found), found


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("object-spelled-out.npy", hostile.npy_object_spelled_out()),
        ("structured-object-field.npy", hostile.npy_structured_object_field()),
        ("object-in.npz", hostile.npz({"w.npy": hostile.npy_object_spelled_out()})),
        ("structured-in.npz", hostile.npz({"w.npy": hostile.npy_structured_object_field()})),
        ("reordered-in.npz", hostile.npz({"w.npy": hostile.npy_reordered_object()})),
    ],
)
def test_a_numpy_object_array_is_refused_however_its_dtype_is_spelled(name: str, data: bytes, tmp_path: Path) -> None:
    """Attacker: numpy reads the header as a Python literal and the dtype with np.dtype, so `'object'`, an
    object field of a structured dtype and keys in any order are all object arrays (np.load(allow_pickle=True)
    unpickles them); the pattern looked for a capital O in one spelling, and a member it could not read was
    skipped."""
    found = _found(tmp_path, name, data)
    assert any("would import posix.system" in f for f in found), found


def test_numpy_files_numpy_writes_pass(tmp_path: Path) -> None:
    plain = model_corpus.npy("<f4", (4,), struct.pack("<4f", 1, 2, 3, 4))
    structured = hostile.npy_literal(
        "{'descr': [('w', '<f4', (2,)), ('', '|V4'), ('t', '<M8[ns]')], 'fortran_order': False, 'shape': (1,), }",
        bytes(16),
    )
    assert _found(tmp_path, "plain.npy", plain) == []
    assert _found(tmp_path, "structured.npy", structured) == []
    assert _found(tmp_path, "arrays.npz", hostile.npz({"a.npy": plain, "b.npy": structured})) == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("lying.npy", hostile.npy_literal("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"")),
        ("call.npy", hostile.npy_literal("{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}", b"")),
        ("unknown-dtype.npy", hostile.npy_literal("{'descr': 'f4,O', 'fortran_order': False, 'shape': (1,)}", b"")),
        ("in.npz", hostile.npz({"w.npy": hostile.npy_literal("{'descr': '<f4'", b"")})),
    ],
)
def test_a_numpy_header_numpy_would_not_read_as_written_is_refused(name: str, data: bytes, tmp_path: Path) -> None:
    found = _found(tmp_path, name, data)
    assert any("NumPy header" in f for f in found), found


@pytest.mark.parametrize(
    "template",
    [
        hostile.CVE_2024_34359,
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
        "{{ lipsum['\\x5f\\x5fglobals\\x5f\\x5f']['os'] }}",
        "{{ (messages|map('upper')).gi_frame.f_builtins.eval('1') }}",
        "{{ '{0.x}'.format(lipsum) }}",
        "{% set u = bos_token[8] %}{% set k = u ~ u ~ 'globals' ~ u ~ u %}{{ lipsum[k] }}",
        "{{ lipsum[bos_token][eos_token] }}",  # the model's own token strings are the attacker's
        "{{ messages|map(attribute=bos_token)|list }}",
        "{{ messages|selectattr(bos_token)|list }}",
        "{% macro m(k) %}{{ lipsum[k] }}{% endmacro %}{{ m(bos_token) }}",
        "{% set k %}globals{% endset %}{{ lipsum[k] }}",
        "{% set x = namespace() %}{% set x.k = bos_token %}{{ lipsum[x.k] }}",
        "{% for k in [bos_token] %}{{ lipsum[k] }}{% endfor %}",
        "{% with k = eos_token %}{{ lipsum[k] }}{% endwith %}",
        "{{ lipsum[(bos_token)] }}",
        "{{ lipsum[bos_token|lower] }}",
        "{{ messages|groupby(bos_token) }}",
        "{{ messages|sort(false, false, bos_token) }}",
        "{{ [lipsum]|map('attr', bos_token)|list }}",
        "{{ [lipsum]|join('', **{'attribute': bos_token}) }}",
        "{{ lipsum.func_globals }}",
        "{% filter attr(bos_token) %}x{% endfilter %}",
        "{{ 'unterminated }}",
        "{% include 'other' %}",
    ],
)
def test_a_gguf_chat_template_that_reaches_python_internals_is_refused(template: str, tmp_path: Path) -> None:
    """Attacker: CVE-2024-34359 and variants: llama-cpp-python rendered the GGUF's chat template with an
    unsandboxed Jinja environment; the header check never looked at the metadata."""
    found = _found(tmp_path, "model.gguf", hostile.gguf_with_template(template))
    assert any("tokenizer.chat_template" in f for f in found), found


def test_a_named_chat_template_is_read_too_and_a_long_one_refused(tmp_path: Path) -> None:
    named = hostile.gguf_with_template(hostile.CVE_2024_34359, key="tokenizer.chat_template.tool_use")
    assert any("tokenizer.chat_template.tool_use" in f for f in _found(tmp_path, "a.gguf", named))
    long = hostile.gguf_with_template(hostile.CHATML + " " * 200_000)
    assert any("longer than" in f for f in _found(tmp_path, "b.gguf", long))


@pytest.mark.parametrize(
    "template",
    [
        hostile.CHATML,
        "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim"
        " %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
        "{%- set ns = namespace(last=messages|length - 1) %}{%- for message in messages %}"
        "{%- if 'tool_calls' in message and message.tool_calls|length == 1 %}"
        "{%- set tool_call = message.tool_calls[0].function %}{{- tool_call.arguments|tojson }}"
        "{%- elif loop.index0 == ns.last %}{{ messages[ns.last]['content'] }}{%- endif %}"
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content']|trim }}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>' }}"
        "{%- endif %}{{ raise_exception('roles must alternate user/assistant') if false }}"
        "{{ strftime_now('%d %b %Y') }}{{ messages|selectattr('role', 'equalto', 'user')|list|length }}"
        "{# a comment with __class__ in it #}{% raw %}{{ __literally__ }}{% endraw %}",
        # constructs of templates models ship (GLM, MiniMax, Mistral, Command R, DeepSeek): a local named _args,
        # macros, a namespace holding strings, filtered loops over items(), slices, escaped quotes
        "{%- macro visible_text(content) -%}{%- if content is string -%}{{- content }}{%- endif -%}{%- endmacro -%}"
        "{%- set ns = namespace(is_first=false, system_prompt='', last_user_index=-1) -%}"
        "{%- for m in messages -%}{%- set _args = m.arguments or {} -%}"
        "{%- for k, v in _args.items() if k != 'return' %}<arg_key>{{ k }}</arg_key>"
        "{{ v | tojson(ensure_ascii=False) if v is not string else v }}{% endfor %}"
        "{%- set ns.system_prompt = ns.system_prompt + '\\n\\n' + visible_text(m.content) -%}"
        "{%- if loop.first or (messages[loop.index0 - 1].role != 'tool') %}{{ m.content.split('</think>')[-1] }}"
        "{%- endif %}{%- for msg in messages[loop.index0 + 1:] %}{%- break %}{%- endfor %}"
        "{{- '\\\"call_id\\\": \\\"' + m.tool_call_id[-9:] + '\\\"}' }}{%- endfor -%}"
        '{{ \'{"type": "function", "function": {\' }}{{ "}}" }}',
    ],
)
def test_chat_templates_models_ship_pass(template: str, tmp_path: Path) -> None:
    assert _found(tmp_path, "model.gguf", hostile.gguf_with_template(template)) == []


def test_a_truncated_or_lying_gguf_metadata_section_is_refused(tmp_path: Path) -> None:
    whole = hostile.gguf_with_template(hostile.CHATML)
    assert any("GGUF" in f for f in _found(tmp_path, "cut.gguf", whole[:-10]))
    lying = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"k"
    assert any("GGUF" in f for f in _found(tmp_path, "lying.gguf", lying))


@pytest.mark.parametrize(
    "reference",
    [
        {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"},
        {"module": "builtins", "class_name": "function", "config": "nothing", "registered_name": "eval"},
        {"module": "os", "class_name": "function", "config": "system", "registered_name": None},
        {"module": "keras.layers", "class_name": "__lambda__", "config": {"value": "..."}},
        {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "os>system"},
    ],
)
def test_a_keras_reference_outside_keras_is_refused(reference: dict[str, object], tmp_path: Path) -> None:
    """Attacker: an activation naming `builtins.exec` (Keras resolves `builtins` functions in its own modules,
    then imported Python's builtins module); `builtins` was allowed as a module."""
    layer = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "activation": reference}}
    assert _found(tmp_path, "m.keras", model_corpus.keras([layer])) != []


def test_keras_models_keras_writes_pass(tmp_path: Path) -> None:
    activation = {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"}
    layers = [
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "a", "activation": "relu"}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "b", "activation": activation}},
        {"class_name": "__numpy__", "config": {"value": [1.0], "dtype": "float32"}},
    ]
    assert _found(tmp_path, "m.keras", model_corpus.keras(layers)) == []


def test_an_error_inside_a_check_is_a_finding_not_a_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelguard.domain import model_formats

    def broken(*args: object) -> list[str]:
        raise RuntimeError("a check that fails")

    monkeypatch.setattr(model_formats, "safetensors_problems", broken)
    found = _found(tmp_path, "m.safetensors", model_corpus.safetensors({"w": model_corpus.DENSE}))
    assert found == ["inspection failed (RuntimeError: a check that fails)"]


def test_a_pytorch_storage_larger_than_the_sniffing_bound_is_read_at_its_head_only(tmp_path: Path) -> None:
    """Not an attack: tensor bytes (no magic number) that do not start a pickle are not read on. Every storage
    was read up to 64 MiB and a larger one refused, so a model with a big embedding could not pass."""
    import zipfile

    path = tmp_path / "big.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", model_corpus.torch_state_dict())
        z.writestr("archive/data/0", struct.pack("<f", 0.25) * (17 * 1024 * 1024))  # 68 MiB of floats
    report = inspect_file(path, "big.pt")
    assert report.format == "pytorch" and findings(report, EVERY_FORMAT) == []
    assert report.bytes_read < 1024 * 1024


def test_identify_calls_every_pickle_protocol_header_a_pickle() -> None:
    from modelguard.domain.model_formats import identify

    for protocol in range(6):
        assert identify(b"\x80" + bytes([protocol]) + b"N.", 4) == "pickle"


def test_a_pickle_named_config_json_in_a_zip_is_still_a_pickle(tmp_path: Path) -> None:
    """A root config.json is read as a Keras configuration; one that is not JSON is told like any member."""
    data = hostile.npz({"config.json": hostile.pickle_then_breakage(), "w.npy": model_corpus.npy("<f4", (0,), b"")})
    found = _found(tmp_path, "m.zip", data)
    assert any("would import os.system in config.json" in f for f in found), found

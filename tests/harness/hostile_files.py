"""Model files built to slip past an inspector that fails open (issue 27 item 8). Standard library only, byte
layouts as numpy, llama.cpp and Keras write them. Each is named by the trick it plays; every one must be refused.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from collections.abc import Iterable

from tests.harness import model_corpus

EVIL = model_corpus._pickled(model_corpus._Call(os.system, "id"))  # protocol 4: a PROTO header
PROTOCOL0 = model_corpus.protocol0_inst()  # `(S'id'\nios\nsystem\n.`: no header, all ASCII
BREAKS = b"(S'x'\n(S'never closed"  # three opcodes a disassembler reads, then one it cannot


def pickle_then_breakage() -> bytes:
    """A protocol-0 pickle that runs os.system, then bytes that break the disassembler: the whole is
    valid UTF-8, and a scanner that trusts only a stream read to its end calls it text."""
    return PROTOCOL0 + BREAKS


def pickle_behind_noops(pairs: int = 2_600_000) -> bytes:
    """Millions of NONE, POP pairs (no-ops) before the pickle: more opcodes than a scanner follows."""
    return b"N0" * pairs + PROTOCOL0


def npy_literal(header: str, data: bytes) -> bytes:
    """A .npy file whose header dict is written as given (a Python literal numpy reads with literal_eval)."""
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + data


def npy_object_spelled_out() -> bytes:
    return npy_literal("{'descr': 'object', 'fortran_order': False, 'shape': (1,), }", EVIL)


def npy_structured_object_field() -> bytes:
    return npy_literal("{'descr': [('w', '<f4'), ('extra', 'object')], 'fortran_order': False, 'shape': (1,), }", EVIL)


def npy_reordered_object() -> bytes:
    """An object array whose header lists its keys in another order (numpy reads any order)."""
    return npy_literal("{'shape': (1,), 'fortran_order': False, 'descr': '|O'}", EVIL)


def npz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def undecompressable_zip() -> bytes:
    """A deflated member whose compressed bytes are garbage: reading it raises zlib.error."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", EVIL * 20)
    raw = bytearray(buffer.getvalue())
    start = raw.find(b"PK\x03\x04") + 30 + len("archive/data.pkl")
    raw[start : start + 8] = b"\xff" * 8  # the deflate stream's first bytes: an invalid block type
    return bytes(raw)


def _gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def gguf(metadata: Iterable[tuple[str, object]], version: int = 3) -> bytes:
    """A GGUF file (no tensors) with metadata values: str (STRING), int (UINT32), list[str] (ARRAY of STRING)."""
    items = list(metadata)
    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(items))
    for key, value in items:
        out += _gguf_string(key)
        if isinstance(value, str):
            out += struct.pack("<I", 8) + _gguf_string(value)
        elif isinstance(value, int):
            out += struct.pack("<II", 4, value)
        elif isinstance(value, list):
            out += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(_gguf_string(v) for v in value)
        else:
            raise TypeError(type(value))
    return out


# CVE-2024-34359 (llama-cpp-python rendered GGUF chat templates outside a sandbox): the published payload
CVE_2024_34359 = (
    '{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}'
    "{{x()._module.__builtins__['__import__']('os').popen(\"touch /tmp/retr0reg\")}}{%endif%}{% endfor %}"
)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'"
    " + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def gguf_with_template(template: str, key: str = "tokenizer.chat_template") -> bytes:
    return gguf(
        [
            ("general.architecture", "llama"),
            ("general.alignment", 32),
            ("tokenizer.ggml.tokens", ["<s>", "</s>", "hello"]),
            (key, template),
        ]
    )


def keras_builtins_exec() -> bytes:
    """A Dense layer whose activation is `builtins.exec`: Keras looks a `builtins` function up in its own
    modules, then (3.x before the fix) in Python's builtins module."""
    activation = {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"}
    layer = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "activation": activation}}
    return model_corpus.keras([layer])


def keras_config(config: object) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        z.writestr("config.json", json.dumps(config))
    return buffer.getvalue()

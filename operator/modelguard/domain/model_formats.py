"""Model file formats (api/model_formats) told by their content, and structural checks of those with headers
(pure).

The name of a file says nothing: `weights.bin` may be a pickle, `model.safetensors` a zip. Formats are told
by magic numbers and structure; what none of them claims is `unknown`, which no policy allows (fail closed).
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # what the safetensors library itself accepts
SAFETENSORS_DTYPES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
    "F4": 0.5,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
}
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NUMPY_MAGIC = b"\x93NUMPY"
COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"(\xb5/\xfd": "zstd"}


def identify(head: bytes, size: int) -> str:
    """The format of a file from its first bytes (at least 64 when the file has them) and its size; pickles
    without a protocol header and ONNX need more than a glance and are told by the inspector."""
    if len(head) >= 9 and head[8:9] == b"{":
        (length,) = struct.unpack("<Q", head[:8])
        if 2 <= length <= min(MAX_SAFETENSORS_HEADER, size - 8):
            return "safetensors"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(NUMPY_MAGIC):
        return "numpy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    for magic, name in COMPRESSED.items():
        if head.startswith(magic):
            return name
    return "unknown"


def safetensors_problems(header: bytes, file_size: int) -> list[str]:
    """What is wrong with a safetensors header (the JSON after the 8-byte length): not JSON, a tensor of an
    unknown dtype or a shape that is not a list of sizes, offsets that leave the data section, disagree with
    the shape, or overlap another tensor, or data the tensors do not cover."""
    data_size = file_size - 8 - len(header)
    try:
        doc = json.loads(header, object_pairs_hook=_unique_keys)
    except RecursionError:
        return ["header is nested too deeply"]
    except ValueError as exc:
        return [f"header is not JSON ({str(exc)[:100]})"]
    if not isinstance(doc, dict):
        return ["header is not a JSON object"]
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, info in doc.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                problems.append("__metadata__ is not a map of strings")
            continue
        problem = _tensor_problem(str(name), info, data_size)
        if problem is not None:
            problems.append(problem)
            continue
        begin, end = info["data_offsets"]
        spans.append((begin, end, str(name)))
    spans.sort()
    covered = 0
    for begin, end, name in spans:
        if begin < covered:
            problems.append(f"tensor {name[:80]!r} overlaps another")
        covered = max(covered, end)
    if not problems and covered != data_size:
        problems.append(f"{data_size - covered} bytes of data no tensor covers")
    return problems[:20]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key twice is refused: loaders disagree on which one counts (a tensor named twice can point twice)."""
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)[:80]!r}")
    return dict(pairs)


def _tensor_problem(name: str, info: Any, data_size: int) -> str | None:
    if not isinstance(info, dict):
        return f"tensor {name[:80]!r} is not an object"
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPES:
        return f"tensor {name[:80]!r} has unknown dtype {str(dtype)[:20]!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return f"tensor {name[:80]!r} has an invalid shape"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        return f"tensor {name[:80]!r} has invalid data_offsets"
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        return f"tensor {name[:80]!r} lies outside the file (bytes {begin}..{end} of {data_size})"
    expected = math.prod(shape) * SAFETENSORS_DTYPES[dtype]
    if end - begin != expected:
        return f"tensor {name[:80]!r} spans {end - begin} bytes, its shape and dtype need {expected:g}"
    return None


def numpy_header(head: bytes) -> tuple[dict[str, Any] | None, int]:
    """The header dict of a .npy file and where its data starts; (None, 0) when it cannot be read. The header
    is a Python literal: read with a strict pattern, never evaluated."""
    if not head.startswith(NUMPY_MAGIC) or len(head) < 10:
        return None, 0
    major = head[6]
    if major == 1:
        (length,), start = struct.unpack("<H", head[8:10]), 10
    elif major in (2, 3) and len(head) >= 12:
        (length,), start = struct.unpack("<I", head[8:12]), 12
    else:
        return None, 0
    text = head[start : start + length].decode("latin-1", errors="replace")
    match = re.fullmatch(
        r"\s*\{\s*'descr'\s*:\s*(?P<descr>'[^']*'|\[.*\])\s*,\s*'fortran_order'\s*:\s*(?P<order>True|False)\s*,"
        r"\s*'shape'\s*:\s*\((?P<shape>[0-9,\s]*)\)\s*,?\s*\}\s*",
        text,
        re.S,
    )
    if match is None or len(head) < start + length:
        return None, 0
    descr = match["descr"]
    shape = tuple(int(d) for d in match["shape"].replace(" ", "").split(",") if d)
    return {"descr": descr.strip("'"), "fortran_order": match["order"] == "True", "shape": shape}, start + length


def numpy_holds_objects(header: Mapping[str, Any]) -> bool:
    """An object dtype (`O`, also inside a structured dtype): the data is a pickle, loaded with allow_pickle."""
    return "O" in str(header.get("descr", "")).replace("'", "")


def keras_code_layers(config: Any) -> list[str]:
    """Layers of a Keras model configuration that carry or import code: `Lambda` (marshalled Python), and
    custom objects registered outside Keras itself."""
    found: list[str] = []
    for node in _walk(config):
        cls = node.get("class_name")
        if cls == "Lambda":
            found.append(f"Lambda layer {str(node.get('config', {}).get('name', '?'))[:80]!r}")
        module = node.get("module")
        if isinstance(module, str) and module and module.split(".")[0] != "keras" and module != "builtins":
            found.append(f"custom object {str(cls)[:60]!r} from module {module[:80]!r}")
    return found[:20]


def _walk(value: Any) -> Iterable[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def gguf_problems(head: bytes, size: int) -> list[str]:
    """The GGUF header: a known version and counts a file of this size can hold."""
    if len(head) < 24:
        return ["GGUF header is truncated"]
    version, tensors, kvs = struct.unpack("<IQQ", head[4:24])
    problems = []
    if version not in (1, 2, 3):
        problems.append(f"unknown GGUF version {version}")
    if tensors > size // 24 or kvs > size // 12:
        problems.append(f"GGUF header claims {tensors} tensors and {kvs} keys, more than {size} bytes can hold")
    return problems

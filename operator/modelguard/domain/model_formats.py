"""Model file formats (api/model_formats) told by their content, and structural checks of those with headers
(pure).

The name of a file says nothing: `weights.bin` may be a pickle, `model.safetensors` a zip. Formats are told
by magic numbers and structure; what none of them claims is `unknown`, which no policy allows (fail closed).
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:  # PROTO: a loader takes 0 and 1 as well
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


MAX_NUMPY_HEADER = 1024 * 1024  # numpy itself reads at most 10,000 bytes unless allow_pickle (then any)
NUMPY_VERSIONS = {1: ("<H", 10, "latin-1"), 2: ("<I", 12, "latin-1"), 3: ("<I", 12, "utf-8")}
# the type strings numpy writes (dtype.str): byte order, kind, size; datetimes with their unit
_PLAIN_TYPESTR = re.compile(r"[<>|=]?(?:[?biufcSUV]\d*|[mM]8(?:\[\d*[A-Za-z]+\])?)")
_OBJECT_TYPESTR = re.compile(r"[<>|=]?(?:O\d*|object_?)")


@dataclass(frozen=True)
class NumpyHeader:
    shape: tuple[int, ...]
    fortran_order: bool
    holds_objects: bool  # an object dtype anywhere in it: the data is a pickle, loaded with allow_pickle
    data_start: int


def numpy_header_end(head: bytes) -> int:
    """Where the header of a .npy file ends (its data starts), from its first 12 bytes; ValueError if no
    version numpy reads, or a header longer than MAX_NUMPY_HEADER."""
    if not head.startswith(NUMPY_MAGIC) or len(head) < 12:
        raise ValueError("no .npy magic and version")
    major, minor = head[6], head[7]
    if major not in NUMPY_VERSIONS or minor != 0:
        raise ValueError(f"format version {major}.{minor}, which numpy does not read")
    length_format, start, _ = NUMPY_VERSIONS[major]
    (length,) = struct.unpack_from(length_format, head, 8)
    if length > MAX_NUMPY_HEADER:
        raise ValueError(f"a header of {length} bytes, more than the {MAX_NUMPY_HEADER} inspected")
    return int(start + length)


def numpy_header(data: bytes) -> NumpyHeader:
    """The header of a .npy file read as numpy reads it (numpy.lib.format: the header is a Python literal
    read with ast.literal_eval, a dict of exactly descr, fortran_order and shape, the descr turned into a
    dtype as descr_to_dtype does) without numpy: a type string numpy writes, a structured list of fields, or
    a (descr, shape) subarray. ValueError says why numpy would read it otherwise or not at all, so an object
    dtype is found however it is spelled ('O', '|O', 'object', a field of a structured dtype, a subarray)."""
    end = numpy_header_end(data)
    if len(data) < end:
        raise ValueError("the header is cut off")
    _, start, encoding = NUMPY_VERSIONS[data[6]]
    try:
        text = data[start:end].decode(encoding)
        literal = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"the header is not a Python literal ({type(exc).__name__})") from None
    if not isinstance(literal, dict) or set(literal) != {"descr", "fortran_order", "shape"}:
        raise ValueError("the header is not a dict of exactly descr, fortran_order and shape")
    shape, order = literal["shape"], literal["fortran_order"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError("the shape is not a tuple of sizes")
    if not isinstance(order, bool):
        raise ValueError("fortran_order is not a bool")
    return NumpyHeader(shape, order, _descr_holds_objects(literal["descr"], 0), end)


def _descr_holds_objects(descr: Any, depth: int) -> bool:
    """Whether a dtype description holds objects; ValueError for one numpy would read some other way."""
    if depth > 32:
        raise ValueError("the dtype is nested too deeply")
    if isinstance(descr, str):
        if _OBJECT_TYPESTR.fullmatch(descr):
            return True
        if _PLAIN_TYPESTR.fullmatch(descr):
            return False
        raise ValueError(f"dtype {descr[:40]!r} is not a type string numpy writes (an object dtype has many spellings)")
    if isinstance(descr, tuple) and len(descr) == 2:  # a subarray: (base, shape)
        _subarray_shape(descr[1])
        return _descr_holds_objects(descr[0], depth + 1)
    if isinstance(descr, list) and descr:  # a structured dtype: (name, descr) or (name, descr, shape) fields
        holds = False
        for item in descr:
            if not isinstance(item, tuple) or len(item) not in (2, 3) or not _field_name(item[0]):
                raise ValueError("a field of the structured dtype is not (name, dtype[, shape])")
            if len(item) == 3:
                _subarray_shape(item[2])
            holds = _descr_holds_objects(item[1], depth + 1) or holds
        return holds
    raise ValueError(f"dtype {str(descr)[:40]!r} is not a dtype description numpy writes")


def _field_name(name: Any) -> bool:
    """A field name, or (title, name)."""
    if isinstance(name, tuple):
        return len(name) == 2 and all(isinstance(n, str) for n in name)
    return isinstance(name, str)


def _subarray_shape(shape: Any) -> None:
    sizes = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in sizes):
        raise ValueError("a subarray shape is not a tuple of sizes")


# Objects Keras 3 deserializes specially (keras/src/saving/serialization_lib.py); `__lambda__` is marshalled code
KERAS_SPECIAL = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__", "__typespec__"}
)
PYTHON_BUILTINS = frozenset(dir(builtins))


def keras_code_layers(config: Any) -> list[str]:
    """Objects of a Keras model configuration that carry or import code: `Lambda` layers and `__lambda__`
    functions (marshalled Python), and every reference Keras would resolve outside its own modules: a `module`
    that is not keras' (Keras imports it), a `builtins` function that is not one of Keras' (Keras looks a
    `builtins` function up in its own modules, then took Python's builtins module: `exec`), a `registered_name`
    of a custom registry (`package>name`), an activation spelled as a Python builtin or a dotted path."""
    found: list[str] = []
    for node in _walk(config):
        found += _keras_reference(node)
        for key, value in node.items():
            named = isinstance(key, str) and key.endswith("activation") and isinstance(value, str)
            if named and not _keras_function_name(value):
                found.append(f"activation {value[:80]!r} is not the name of a Keras function")
    return found[:20]


def _keras_reference(node: Mapping[str, Any]) -> list[str]:
    if "class_name" not in node:
        return []
    cls, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    if not isinstance(cls, str):
        return [f"class_name {str(cls)[:60]!r} is not a name"]
    if cls in ("Lambda", "__lambda__"):
        config = node.get("config")
        name = config.get("name", "?") if isinstance(config, dict) else "?"
        return [f"Lambda layer {str(name)[:80]!r}" if cls == "Lambda" else "a __lambda__ function (marshalled code)"]
    found = []
    if cls.startswith("_") and cls not in KERAS_SPECIAL:
        found.append(f"object {cls[:60]!r}, which Keras does not define")
    if module is not None and not isinstance(module, str):
        found.append(f"module {str(module)[:60]!r} is not a name")
    elif module == "builtins":
        names = [node.get("config"), registered] if cls == "function" else [cls]
        for name in names:
            if name is not None and name != "function" and not _keras_function_name(name):
                found.append(f"{str(name)[:60]!r} from module 'builtins' is not a Keras function (Python's would load)")
    elif module and module != "keras" and not module.startswith("keras."):
        found.append(f"custom object {cls[:60]!r} from module {module[:80]!r}")
    if registered is not None and (not isinstance(registered, str) or not _identifier(registered)):
        found.append(f"custom object registered as {str(registered)[:80]!r}")
    return found


def _keras_function_name(name: Any) -> bool:
    """A name Keras can only find among its own functions: an identifier that is not Python's builtin."""
    return isinstance(name, str) and _identifier(name) and name not in PYTHON_BUILTINS


def _identifier(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_")


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

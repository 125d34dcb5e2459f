"""The key/value section of a GGUF file read with GGUF's own grammar (pure), and its chat templates checked.

GGUF (llama.cpp): magic, version, tensor count, key/value count, then typed key/value pairs (strings, numbers,
arrays of them), then the tensor descriptions. The section is where a model ships its chat template
(`tokenizer.chat_template`, `tokenizer.chat_template.<name>`), which loaders render with Jinja: a template that
reaches Python internals runs code where the renderer is not sandboxed (llama-cpp-python, CVE-2024-34359).
Everything that does not parse as the grammar says is a problem; the tensor descriptions are not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from modelguard.domain.chat_templates import template_problems

MAX_METADATA = 64 * 1024 * 1024  # a 256k-token vocabulary with merges and scores is ~15 MiB
STRING, ARRAY = 8, 9
SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # gguf_type -> bytes
TEMPLATE_KEY = "tokenizer.chat_template"


@dataclass
class GgufReading:
    problems: list[str] = field(default_factory=list)
    complete: bool = True  # False: the bytes given end inside the section; read more (to MAX_METADATA) and ask again


class _Short(Exception):
    """The bytes given end before the section does (the file goes on)."""


class _Cursor:
    def __init__(self, data: bytes, size: int, wide: bool) -> None:
        self.data, self.size, self.at = data, size, 0
        self.count = "<Q" if wide else "<I"  # string lengths and counts: 64-bit since version 2

    def skip(self, n: int) -> None:
        end = self.at + n
        if end > self.size:
            raise ValueError(f"a value at byte {self.at} runs past the end of the file")
        if end > MAX_METADATA:
            raise ValueError(f"the key/value section is larger than the {MAX_METADATA} bytes inspected")
        if end > len(self.data):
            raise _Short
        self.at = end

    def take(self, n: int) -> bytes:
        start = self.at
        self.skip(n)
        return self.data[start : self.at]

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return int(value)

    def string(self) -> bytes:
        return self.take(self.unpack(self.count))


def read_metadata(data: bytes, size: int) -> GgufReading:
    """The GGUF key/value section from the first bytes of a file of `size` bytes: its problems (structure,
    duplicate keys, and what is wrong with each chat template), or `complete=False` if `data` ends inside it."""
    reading = GgufReading()
    if len(data) < 8:
        reading.problems.append("GGUF header is truncated")
        return reading
    (version,) = struct.unpack_from("<I", data, 4)
    if version not in (1, 2, 3):
        reading.problems.append(f"unknown GGUF version {version}")
        return reading
    cursor = _Cursor(data, size, wide=version >= 2)
    try:
        cursor.skip(8)
        tensors, kvs = cursor.unpack(cursor.count), cursor.unpack(cursor.count)
        if tensors > size // 24 or kvs > size // 12:
            reading.problems.append(
                f"GGUF header claims {tensors} tensors and {kvs} keys, more than {size} bytes can hold"
            )
            return reading
        seen: set[bytes] = set()
        for _ in range(kvs):
            key = cursor.string()
            if key in seen:
                reading.problems.append(f"GGUF key {key[:80].decode('utf-8', 'replace')!r} appears twice")
            seen.add(key)
            _value(cursor, key.decode("utf-8", "replace"), cursor.unpack("<I"), reading, nested=False)
    except _Short:
        reading.complete = len(data) >= size
        if reading.complete:
            reading.problems.append("GGUF key/value section is truncated")
    except (ValueError, struct.error) as exc:
        reading.problems.append(f"GGUF key/value section cannot be read ({str(exc)[:120]})")
    return reading


def _value(cursor: _Cursor, key: str, kind: int, reading: GgufReading, nested: bool) -> None:
    template = key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + ".")
    if template and kind != STRING:
        reading.problems.append(f"{key[:80]} is not a string")
    if kind in SCALAR_SIZES:
        cursor.skip(SCALAR_SIZES[kind])
    elif kind == STRING:
        raw = cursor.string()
        if template:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                reading.problems.append(f"{key[:80]} is not UTF-8")
            else:
                reading.problems += [f"{key[:80]}: {p}" for p in template_problems(text)]
    elif kind == ARRAY and not nested:  # llama.cpp reads no arrays of arrays
        item, count = cursor.unpack("<I"), cursor.unpack(cursor.count)
        if item in SCALAR_SIZES:
            cursor.skip(SCALAR_SIZES[item] * count)
        elif item == STRING:
            if count > (cursor.size - cursor.at) // 8:
                raise ValueError(f"{key[:80]} claims {count} strings, more than the file can hold")
            for _ in range(count):
                cursor.skip(cursor.unpack(cursor.count))
        else:
            raise ValueError(f"{key[:80]} is an array of type {item}, which GGUF does not define or nest")
    else:
        raise ValueError(f"{key[:80]} has value type {kind}, which GGUF does not define")

"""Read model files just enough to tell their format and what loading them would do (domain/inspection decides).

Nothing is loaded, imported or executed: pickles are disassembled (domain/pickle_globals), headers parsed.
Reads are bounded: a safetensors file costs its 8-byte length and its header, a GGUF or NumPy file its
header; only pickles (and the zip members that hold them) are read whole, up to MAX_PICKLE bytes.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import zipfile
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import IO

from modelguard.domain import model_formats as fmt
from modelguard.domain import pickle_globals, safe_json
from modelguard.domain.inspection import FileReport

HEAD = 64 * 1024
MAX_PICKLE = 512 * 1024 * 1024  # a state dict's pickle is small (tensor bytes live beside it)
MAX_SNIFF = 64 * 1024 * 1024  # files without a magic number read whole to tell pickle, JSON, text or ONNX
MAX_MEMBERS = 100_000
MAX_DECOMPRESSED = 512 * 1024 * 1024
ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2}  # ModelProto: wire types


def inspect_model(root: Path, ignore: Sequence[str] = (), only: Collection[str] | None = None) -> list[FileReport]:
    """Every regular file of a model directory (or the one file), in path order. `only`: exactly these relative
    paths (the signed files: what a loader may read), each read through a symbolic link that stays inside the
    model as verification reads it; `ignore`: relative paths (files or directories) left out of a walk."""
    if root.is_file():
        return [inspect_file(root, root.name)]
    if only is not None:
        return [_inspect_path(root, rel) for rel in sorted(only)]
    reports = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in ignore):
            continue
        reports.append(_inspect_path(root, rel))
    return reports


def _inspect_path(root: Path, rel: str) -> FileReport:
    path = root / rel
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = False
    if not inside:
        return FileReport(rel, "unknown", [f"{rel} leads outside the model directory"])
    if not path.is_file():
        return FileReport(rel, "unknown", [f"{rel} is not a regular file"])
    return inspect_file(path, rel)


def inspect_file(path: Path, name: str) -> FileReport:
    with path.open("rb") as f:
        return inspect_stream(f, path.stat().st_size, name)


def inspect_stream(f: IO[bytes], size: int, name: str) -> FileReport:
    """One file given as a seekable stream (a local file, or ranged reads of a remote one) and its size."""
    head = f.read(HEAD)
    report = FileReport(name, fmt.identify(head, size), bytes_read=len(head))
    _inspect(f, head, size, report)
    return report


def _inspect(f: IO[bytes], head: bytes, size: int, report: FileReport) -> None:
    kind = report.format
    if kind == "safetensors":
        (length,) = struct.unpack("<Q", head[:8])
        header = head[8 : 8 + length]
        if len(header) < length:
            f.seek(8 + len(header))
            header += f.read(length - len(header))
            report.bytes_read += length - len(head[8:])
        report.problems += fmt.safetensors_problems(header, size)
    elif kind == "gguf":
        report.problems += fmt.gguf_problems(head, size)
    elif kind == "numpy":
        _numpy(f, head, size, report, "")
    elif kind == "zip":
        _zip(f, report)
    elif kind == "hdf5":
        report.problems.append("HDF5 (Keras .h5) cannot be inspected without loading it: save as .keras or safetensors")
    elif kind == "pickle":
        _pickle(_whole(f, size, report), report, "")
    elif kind in ("gzip", "bzip2", "xz", "zstd"):
        _compressed(f, kind, report)
    else:
        _sniff(f, head, size, report)


def _whole(f: IO[bytes], size: int, report: FileReport) -> bytes | None:
    if size > MAX_PICKLE:
        report.problems.append(f"a pickle of {size} bytes is larger than the {MAX_PICKLE} bytes inspected")
        return None
    f.seek(0)
    data = f.read(size)
    report.bytes_read = max(report.bytes_read, len(data))
    return data


def _pickle(data: bytes | None, report: FileReport, where: str) -> None:
    if data is None:
        return
    scanned = pickle_globals.scan(data)
    report.pickled = True
    report.imports += [(where, module, name) for module, name in scanned.imports]
    report.problems += [f"{where + ': ' if where else ''}{p}" for p in scanned.problems]


def _numpy(f: IO[bytes], head: bytes, size: int, report: FileReport, where: str) -> None:
    header, start = fmt.numpy_header(head)
    if header is None:
        report.problems.append(f"{where + ': ' if where else ''}NumPy header cannot be read")
    elif fmt.numpy_holds_objects(header):  # the data is a pickle: np.load(allow_pickle=True) runs it
        data = _whole(f, size, report)
        _pickle(data[start:] if data is not None else None, report, where or "object array")


def _zip(f: IO[bytes], report: FileReport) -> None:
    f.seek(0)
    try:
        archive = zipfile.ZipFile(f)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        report.problems.append(f"zip archive cannot be read ({str(exc)[:100]})")
        return
    if len(members) > MAX_MEMBERS:
        report.problems.append(f"zip archive has more than {MAX_MEMBERS} members")
        return
    names = [m.filename for m in members]
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        report.format = "pytorch"
    elif "config.json" in names and "metadata.json" in names:
        report.format = "keras"
    elif names and all(n.endswith(".npy") for n in names):
        report.format = "numpy"
    for member in members:
        if member.is_dir():
            continue
        try:
            _member(archive, member, report)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            # a member whose CRC or compression is off: a loader may still read it, so it is not skipped
            report.problems.append(f"zip member {member.filename[:120]!r} cannot be read ({str(exc)[:80]})")


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, report: FileReport) -> None:
    name = member.filename
    with archive.open(member) as stream:
        head = stream.read(HEAD)
        report.bytes_read += len(head)
        kind = fmt.identify(head, member.file_size)
        if report.format == "keras" and name == "config.json":
            rest = stream.read(MAX_SNIFF)
            try:
                config = safe_json.loads(head + rest)
            except ValueError:
                report.problems.append("Keras config.json is not JSON")
                return
            report.problems += fmt.keras_code_layers(config)
            return
        named = name.endswith((".pkl", ".pickle")) or name.rsplit("/", 1)[-1] == "data.pkl"
        if kind == "pickle" or named:
            data = _rest(stream, head, name, report)
            if data is not None:
                _pickle(data, report, name)
        elif kind == "numpy":
            header, start = fmt.numpy_header(head)
            if header is not None and fmt.numpy_holds_objects(header):
                data = _rest(stream, head, name, report)
                if data is not None:
                    _pickle(data[start:], report, name)
        elif kind in ("zip", "gzip", "bzip2", "xz", "zstd"):
            report.problems.append(f"{name}: a nested archive ({kind}) is not inspected")
        elif kind == "unknown":  # a protocol 0/1 pickle has no magic number: read it as one if it parses
            data = _rest(stream, head, name, report, MAX_SNIFF)
            scanned = pickle_globals.scan(data) if data is not None else None
            if scanned is not None and scanned.pickles and not scanned.problems and scanned.opcodes > 1:
                _pickle(data, report, name)


def _rest(stream: IO[bytes], head: bytes, name: str, report: FileReport, limit: int = MAX_PICKLE) -> bytes | None:
    """The whole member, read up to `limit` bytes: its declared size is the archive's claim, not a bound."""
    data = head + stream.read(limit + 1 - len(head))
    report.bytes_read += len(data) - len(head)
    if len(data) > limit:
        report.problems.append(f"{name}: larger than the {limit} bytes inspected")
        return None
    return data


def _compressed(f: IO[bytes], kind: str, report: FileReport) -> None:
    """A compressed file is what it holds: decompressed (bounded) and told again, so a gzipped pickle is a
    pickle. zstd is not in the standard library: a finding."""
    f.seek(0)
    opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}.get(kind)
    if opener is None:
        report.problems.append(f"{kind}-compressed content cannot be inspected")
        return
    try:
        with opener(fileobj=f) as inner:
            data = inner.read(MAX_DECOMPRESSED + 1)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        report.problems.append(f"{kind} stream cannot be read ({str(exc)[:80]})")
        return
    if len(data) > MAX_DECOMPRESSED:
        report.problems.append(f"{kind} content is larger than the {MAX_DECOMPRESSED} bytes inspected")
        return
    inner_kind = fmt.identify(data[:HEAD], len(data))
    report.format = f"{kind}+{inner_kind}"
    if inner_kind == "pickle" or inner_kind == "unknown":
        scanned = pickle_globals.scan(data)
        if scanned.pickles:
            report.format, report.pickled = f"{kind}+pickle", True
            report.imports += [("", m, n) for m, n in scanned.imports]
            report.problems += scanned.problems
            return
    report.problems.append(f"{kind}-compressed {inner_kind} content: store it uncompressed to be inspected")


def _sniff(f: IO[bytes], head: bytes, size: int, report: FileReport) -> None:
    """No magic number: a protocol 0/1 pickle, JSON, text, ONNX (protobuf), or unknown."""
    if size > MAX_SNIFF:
        if _onnx(f, size):
            report.format = "onnx"
        return
    f.seek(0)
    data = f.read(size)
    report.bytes_read = max(report.bytes_read, len(data))
    scanned = pickle_globals.scan(data)
    if scanned.pickles and not scanned.problems and scanned.opcodes > 1:
        report.format, report.pickled = "pickle", True
        report.imports += [("", m, n) for m, n in scanned.imports]
    elif fmt.is_json(data):
        report.format = "json"
    elif fmt.is_text(data):
        report.format = "text"
    elif _onnx(f, size):
        report.format = "onnx"


def _onnx(f: IO[bytes], size: int) -> bool:
    """An ONNX ModelProto: every top-level protobuf field is one ModelProto has, with its wire type, the fields
    end exactly at the end of the file, and the graph is there. Reads only the field headers."""
    f.seek(0)
    seen = set()
    position = 0
    while position < size:
        key = _varint(f)
        if key is None:
            return False
        number, wire = key >> 3, key & 7
        if ONNX_FIELDS.get(number) != wire:
            return False
        if wire == 0:
            if _varint(f) is None:
                return False
        else:
            length = _varint(f)
            if length is None or f.tell() + length > size:
                return False
            f.seek(length, os.SEEK_CUR)
        seen.add(number)
        position = f.tell()
    return position == size and 7 in seen


def _varint(f: IO[bytes]) -> int | None:
    value, shift = 0, 0
    for _ in range(10):
        byte = f.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
    return None


def total_read(reports: Iterable[FileReport]) -> int:
    return sum(r.bytes_read for r in reports)

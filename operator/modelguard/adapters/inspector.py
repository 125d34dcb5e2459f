"""Read model files just enough to tell their format and what loading them would do (domain/inspection decides).

Nothing is loaded, imported or executed: pickles are disassembled (domain/pickle_globals), headers parsed with
their formats' own grammars (domain/model_formats, domain/gguf). Reads are bounded: a safetensors file costs its
8-byte length and its header, a NumPy file its header, a GGUF file its key/value section; only pickles (and the
zip members that may hold them) are read whole, up to MAX_PICKLE bytes. Fail closed: an error inside a check,
a bound reached or content no check can read is a finding, never a pass (a failing source read is the source's
error, Retry or VerificationError, and verification reports it).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import zipfile
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import IO

from modelguard.domain import gguf, pickle_globals, safe_json
from modelguard.domain import model_formats as fmt
from modelguard.domain.errors import Retry, VerificationError
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
    try:
        with path.open("rb") as f:
            return inspect_stream(f, path.stat().st_size, name)
    except OSError as exc:
        return FileReport(name, "unknown", [f"{name} cannot be read ({exc.strerror or type(exc).__name__})"])


def inspect_stream(f: IO[bytes], size: int, name: str) -> FileReport:
    """One file given as a seekable stream (a local file, or ranged reads of a remote one) and its size."""
    report = FileReport(name, "unknown")
    try:
        head = f.read(HEAD)
        report.format, report.bytes_read = fmt.identify(head, size), len(head)
        _inspect(f, head, size, report)
    except (Retry, VerificationError):
        raise  # the source failed, not the file: verification says so and nothing is recorded as inspected
    except Exception as exc:  # an error inside a check is a finding: fail closed, never a pass
        report.problems.append(f"inspection failed ({type(exc).__name__}: {str(exc)[:120]})")
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
        _gguf(f, head, size, report)
    elif kind == "numpy":
        _numpy(head, f.read, report, "")
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


def _gguf(f: IO[bytes], head: bytes, size: int, report: FileReport) -> None:
    """The key/value section, read as far as it goes (growing reads up to gguf.MAX_METADATA)."""
    data = head
    while True:
        reading = gguf.read_metadata(data, size)
        if reading.complete:
            report.problems += reading.problems
            return
        want = min(size, gguf.MAX_METADATA, 4 * len(data))
        f.seek(len(data))
        more = f.read(want - len(data))
        if not more:
            report.problems.append("GGUF key/value section ends early (the file is shorter than it says)")
            return
        data += more
        report.bytes_read = max(report.bytes_read, len(data))


def _numpy(head: bytes, more: Callable[[int], bytes], report: FileReport, where: str) -> None:
    """A .npy file (or npz member) whose first bytes are `head` and whose next bytes `more(n)` reads: its header
    read as numpy reads it; an object dtype makes the data a pickle np.load(allow_pickle=True) runs."""
    place = f"{where}: " if where else ""
    data = head
    try:
        end = fmt.numpy_header_end(head)
        if end > len(data):
            data += more(end - len(data))
            report.bytes_read += len(data) - len(head)
        header = fmt.numpy_header(data)
    except ValueError as exc:
        report.problems.append(f"{place}NumPy header cannot be read: {str(exc)[:160]}")
        return
    if header.holds_objects:
        before = len(data)
        data += more(MAX_PICKLE + 1 - len(data))
        report.bytes_read += len(data) - before
        if len(data) > MAX_PICKLE:
            report.problems.append(f"{place}an object array larger than the {MAX_PICKLE} bytes inspected")
            return
        _pickle(data[header.data_start :], report, where or "object array")


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
        except (Retry, VerificationError):
            raise
        except Exception as exc:
            # a member whose CRC or compression is off, or whose check failed: a loader may still read it,
            # so it is a finding, never skipped
            report.problems.append(
                f"zip member {member.filename[:120]!r} cannot be read ({type(exc).__name__}: {str(exc)[:80]})"
            )


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, report: FileReport) -> None:
    name = member.filename
    with archive.open(member) as stream:
        head = stream.read(HEAD)
        report.bytes_read += len(head)
        kind = fmt.identify(head, member.file_size)
        named = name.endswith((".pkl", ".pickle")) or name.rsplit("/", 1)[-1] == "data.pkl"
        if kind == "pickle" or named:
            data = _rest(stream, head, name, report)
            if data is not None:
                _pickle(data, report, name)
        elif kind == "numpy":  # np.load of an npz reads every member with the magic number
            _numpy(head, stream.read, report, name)
        elif kind in ("zip", "gzip", "bzip2", "xz", "zstd"):
            report.problems.append(f"{name}: a nested archive ({kind}) is not inspected")
        elif kind == "unknown":  # JSON, a protocol 0/1 pickle or raw tensor bytes: no magic number
            if name == "config.json":  # keras.saving reads it from any zip it is given
                data = _rest(stream, head, name, report, MAX_SNIFF)
                if data is None or _keras_config(data, report):
                    return
                head = data  # not JSON: what else it is, is told below
            first = pickle_globals.scan(head, total=member.file_size)
            if first.is_pickle or first.truncated:  # tensor bytes break within a few opcodes
                data = _rest(stream, head, name, report)
                scanned = pickle_globals.scan(data) if data is not None else None
                if scanned is not None and scanned.is_pickle:
                    _pickle(data, report, name)


def _keras_config(data: bytes, report: FileReport) -> bool:
    """A root config.json checked as a Keras configuration; False when it is not JSON (and not in a Keras zip)."""
    try:
        config = safe_json.loads(data)
    except ValueError:
        if report.format != "keras":
            return False
        report.problems.append("Keras config.json is not JSON")
        return True
    report.problems += fmt.keras_code_layers(config)
    return True


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
        if inner_kind == "pickle" or scanned.is_pickle or scanned.imports:
            report.format, report.pickled = f"{kind}+pickle", True
            report.imports += [("", m, n) for m, n in scanned.imports]
            report.problems += scanned.problems
            return
    report.problems.append(f"{kind}-compressed {inner_kind} content: store it uncompressed to be inspected")


def _sniff(f: IO[bytes], head: bytes, size: int, report: FileReport) -> None:
    """No magic number: a protocol 0/1 pickle, JSON, text, ONNX (protobuf), or unknown. The pickle is told
    first, by what a loader would do (PickleScan.is_pickle, or any import): a stream that breaks after its
    imports, or outlasts the scan, is a pickle with findings, never text because the disassembler stopped."""
    if size > MAX_SNIFF:
        first = pickle_globals.scan(head, total=size)
        if first.is_pickle or first.imports or first.truncated:
            report.format, report.pickled = "pickle", True
            report.problems.append(f"a pickle larger than the {MAX_SNIFF} bytes inspected without a protocol header")
        elif _onnx(f, size):
            report.format = "onnx"
        return
    f.seek(0)
    data = f.read(size)
    report.bytes_read = max(report.bytes_read, len(data))
    scanned = pickle_globals.scan(data)
    if scanned.is_pickle or scanned.imports:
        report.format, report.pickled = "pickle", True
        report.imports += [("", m, n) for m, n in scanned.imports]
        report.problems += scanned.problems
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

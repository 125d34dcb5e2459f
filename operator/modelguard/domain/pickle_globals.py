"""What a pickle would import when loaded, found without loading it (pure).

Loading a pickle runs code through the callables it imports (GLOBAL, STACK_GLOBAL, INST, and the extension
registry EXT1/2/4), so the set of imports is what decides whether loading is safe. The opcodes are read with
the standard library's `pickletools.genops`, which only parses; a small symbolic stack follows every
opcode's documented stack effect, so the module and name a STACK_GLOBAL takes are the strings actually on
the stack (memoized, duplicated or pushed long before), not a guess from the opcodes just before it.
Anything that cannot be followed is a finding (fail closed): an import whose module or name is not a known
string, an extension-registry import, a stream that does not parse, or more opcodes than the bound.

A loader runs every opcode it reads before the one that breaks, so what a broken stream imported counts: bytes
are a pickle (`PickleScan.is_pickle`) when a stream was read to its STOP, when they import anything a loader
could resolve, or when the scan gave up before their end; never "text" because the disassembler stopped.
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field

MAX_OPCODES = 5_000_000  # a pickle of plain tensors has a few per tensor; more is not a model's state dict
UNKNOWN = "?"  # a module or name the scan could not resolve to a string


@dataclass
class PickleScan:
    imports: list[tuple[str, str]] = field(default_factory=list)  # (module, name) in the order they load
    problems: list[str] = field(default_factory=list)  # why the stream cannot be trusted, if it cannot
    opcodes: int = 0
    pickles: int = 0  # streams read back to back (a file may hold several)
    exhausted: bool = False  # more opcodes than the bound: the scan gave up, the rest is unknown
    truncated: bool = False  # the bytes given ended inside an opcode the whole (`total`) holds: read more

    @property
    def unresolved(self) -> bool:
        return any(UNKNOWN in pair for pair in self.imports)

    @property
    def is_pickle(self) -> bool:
        """Whether a loader would take these bytes for a pickle worth refusing: a stream read to its STOP
        (more than one opcode), an import of a dotted name (performed by the time a later opcode breaks), or
        more opcodes than the scan follows. Raw tensor bytes break within a few opcodes and import nothing."""
        return (
            (self.pickles > 0 and self.opcodes > 1)
            or self.exhausted
            or any(_dotted(module) and _dotted(name) for module, name in self.imports)
        )


def _dotted(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


class _Mark:
    pass


_MARK = _Mark()
_STRING_OPS = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"}
)


def _effect(opcode: pickletools.OpcodeInfo) -> tuple[bool, int, tuple[bool, ...]]:
    """(pops to the last mark, then pops this many, then pushes: True for a mark) from the documented effect."""
    before = [getattr(s, "name", s) for s in opcode.stack_before]
    after = tuple(getattr(s, "name", s) == "mark" for s in opcode.stack_after)
    if "stackslice" in before:
        return True, before.index("mark") if "mark" in before else 0, after
    return False, len(before), after


_EFFECTS = {opcode.name: _effect(opcode) for opcode in pickletools.opcodes}


class _NeedMore(Exception):
    pass


class _Head(io.BytesIO):
    """The first bytes of something `total` bytes long: reading past them where the whole goes on is not a
    broken pickle but too few bytes (PickleScan.truncated); past the whole it is, as for a loader."""

    def __init__(self, data: bytes, total: int) -> None:
        super().__init__(data)
        self.size, self.total = len(data), total

    def read(self, n: int | None = -1, /) -> bytes:
        if n is not None and n >= 0 and self.size < self.tell() + n <= self.total:
            raise _NeedMore
        return super().read(n)

    def readline(self, limit: int | None = -1, /) -> bytes:
        line = super().readline(limit)
        if not line.endswith(b"\n") and self.tell() >= self.size and self.size < self.total:
            raise _NeedMore
        return line


def scan(data: bytes, max_opcodes: int = MAX_OPCODES, total: int | None = None) -> PickleScan:
    """Every import the pickle stream(s) in `data` would perform. Trailing bytes after the last STOP that do
    not start another pickle are reported (a loader may read on where a scanner stopped). `total`: the size of
    what `data` is the beginning of (default: data is all of it)."""
    result = PickleScan()
    stream = _Head(data, max(total or 0, len(data)))
    while stream.tell() < len(data):
        start = stream.tell()
        if not _one(stream, result, max_opcodes):
            break
        result.pickles += 1
        if stream.tell() == start:  # no progress: stop rather than loop
            break
    if result.pickles == 0 and not result.problems:
        result.problems.append("no pickle stream")
    return result


def _one(stream: _Head, result: PickleScan, max_opcodes: int) -> bool:
    """Read one pickle stream. Bytes after a complete pickle that do not even start another one are data a
    loader reads some other way (legacy PyTorch files keep tensor bytes there), not a pickle: the scan
    stops without a problem. A stream that breaks after it started is a problem (fail closed)."""
    stack: list[object] = []
    memo: dict[object, object] = {}
    read = 0
    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            read += 1
            result.opcodes += 1
            if result.opcodes > max_opcodes:
                result.problems.append(f"more than {max_opcodes} opcodes")
                result.exhausted = True
                return False
            _step(opcode, arg, stack, memo, result)
    except _NeedMore:
        result.truncated = True
        return False
    except Exception as exc:  # genops raises ValueError and others on malformed input: never trust the rest
        if read > 1 or result.pickles == 0:
            result.problems.append(f"not a well-formed pickle ({type(exc).__name__}: {str(exc)[:120]})")
        return False
    return True


def _step(
    opcode: pickletools.OpcodeInfo, arg: object, stack: list[object], memo: dict[object, object], result: PickleScan
) -> None:
    name = opcode.name
    if name in ("GLOBAL", "INST"):
        text_module, _, text_name = str(arg).partition(" ")
        result.imports.append((text_module or UNKNOWN, text_name or UNKNOWN))
    elif name == "STACK_GLOBAL":
        top, below = (stack.pop() if stack else None), (stack.pop() if stack else None)
        result.imports.append((below if isinstance(below, str) else UNKNOWN, top if isinstance(top, str) else UNKNOWN))
        stack.append(None)
        return
    elif name in ("EXT1", "EXT2", "EXT4"):  # copyreg's extension registry imports by number
        result.imports.append((UNKNOWN, f"extension code {arg}"))
    if name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1] if stack else None
        return
    if name == "MEMOIZE":
        memo[len(memo)] = stack[-1] if stack else None
        return
    if name in ("GET", "BINGET", "LONG_BINGET"):
        stack.append(memo.get(arg))
        return
    if name == "DUP":
        stack.append(stack[-1] if stack else None)
        return
    _apply_effect(name, stack)
    if name in _STRING_OPS and stack:
        value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
        stack[-1] = value if isinstance(value, str) else None


def _apply_effect(name: str, stack: list[object]) -> None:
    """Pop what the opcode consumes (to the last mark for a stack slice) and push placeholders for what it
    produces; only strings are tracked as values."""
    to_mark, fixed, pushes = _EFFECTS[name]
    if to_mark:
        while stack and stack[-1] is not _MARK:
            stack.pop()
        if stack:
            stack.pop()  # the mark
    del stack[max(0, len(stack) - fixed) :]
    for is_mark in pushes:
        stack.append(_MARK if is_mark else None)

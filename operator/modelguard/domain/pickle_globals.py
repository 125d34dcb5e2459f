"""What a pickle would import when loaded, found without loading it (pure).

Loading a pickle runs code through the callables it imports (GLOBAL, STACK_GLOBAL, INST, and the extension
registry EXT1/2/4), so the set of imports is what decides whether loading is safe. The opcodes are read with
the standard library's `pickletools.genops`, which only parses; a small symbolic stack follows every
opcode's documented stack effect, so the module and name a STACK_GLOBAL takes are the strings actually on
the stack (memoized, duplicated or pushed long before), not a guess from the opcodes just before it.
Anything that cannot be followed is a finding (fail closed): an import whose module or name is not a known
string, an extension-registry import, a stream that does not parse, or more opcodes than the bound.
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

    @property
    def unresolved(self) -> bool:
        return any(UNKNOWN in pair for pair in self.imports)


class _Mark:
    pass


_MARK = _Mark()
_STRING_OPS = {
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
}


def scan(data: bytes, max_opcodes: int = MAX_OPCODES) -> PickleScan:
    """Every import the pickle stream(s) in `data` would perform. Trailing bytes after the last STOP that do
    not start another pickle are reported (a loader may read on where a scanner stopped)."""
    result = PickleScan()
    stream = io.BytesIO(data)
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


def _one(stream: io.BytesIO, result: PickleScan, max_opcodes: int) -> bool:
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
                return False
            _step(opcode, arg, stack, memo, result)
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
    _apply_effect(opcode, stack)
    if name in _STRING_OPS and stack:
        value = arg.decode("latin-1") if isinstance(arg, bytes) else arg
        stack[-1] = value if isinstance(value, str) else None


def _apply_effect(opcode: pickletools.OpcodeInfo, stack: list[object]) -> None:
    """Pop what the opcode consumes (to the last mark for a stack slice) and push placeholders for what it
    produces; only strings are tracked as values."""
    before = [getattr(s, "name", s) for s in opcode.stack_before]
    if "stackslice" in before:
        while stack and stack[-1] is not _MARK:
            stack.pop()
        if stack:
            stack.pop()  # the mark
        fixed = before[: before.index("mark")] if "mark" in before else []
    else:
        fixed = before
    for _ in fixed:
        if stack:
            stack.pop()
    for produced in opcode.stack_after:
        stack.append(_MARK if getattr(produced, "name", produced) == "mark" else None)

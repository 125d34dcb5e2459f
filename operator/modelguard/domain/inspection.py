"""Which model files may be loaded: the rules (allowed formats, allowed pickle imports) and the findings of one
file against them (pure). The inspector (adapters/inspector.py) reads the files; this decides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from modelguard.api.model_formats import FORMATS, SAFE_FORMATS

ENGINE = "modelguard-inspect/2"  # bumped when detection changes: maintenance scans inspect again
# What a PyTorch checkpoint of plain tensors imports (as torch.load(weights_only=True) allows), and NumPy's
# reconstruction of plain arrays: enough for state dicts, nothing that runs a command or imports a module.
TENSOR_GLOBALS = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.device",
        "torch.Size",
        *(
            f"torch.{kind}Storage"
            for kind in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
        ),
        *(
            f"torch.{dtype}"
            for dtype in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool")
        ),
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.ndarray",
        "numpy.dtype",
    }
)


@dataclass(frozen=True)
class Rules:
    allowed_formats: frozenset[str] = frozenset(SAFE_FORMATS)
    allowed_globals: frozenset[str] = TENSOR_GLOBALS  # "module.name", or "module.*" for a whole module
    refuse_pickles: bool = False  # the policy's `pickles: Refuse`: any file holding a pickle is refused

    @classmethod
    def parse(
        cls, formats: str | Iterable[str] | None, extra_globals: Iterable[str] = (), refuse_pickles: bool = False
    ) -> Rules:
        """From `--allow-formats` (a comma list; `all` for every known format) and extra allowed imports."""
        if formats is None:
            chosen: set[str] = set(SAFE_FORMATS)
        else:
            items = formats.split(",") if isinstance(formats, str) else list(formats)
            chosen = {f.strip().lower() for f in items if f.strip()}
            if "all" in chosen:
                chosen = set(FORMATS)
        unknown = sorted(chosen - set(FORMATS))
        if unknown:
            raise ValueError(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
        allowed = TENSOR_GLOBALS | frozenset(g.strip() for g in extra_globals if g.strip())
        return cls(frozenset(chosen), allowed, refuse_pickles)

    def allows_import(self, module: str, name: str) -> bool:
        return f"{module}.{name}" in self.allowed_globals or f"{module}.*" in self.allowed_globals


@dataclass
class FileReport:
    """One file as the inspector read it: its format, what is wrong with its structure, what its pickles
    would import (a zip member's as `member!...`), and how many bytes were read."""

    path: str
    format: str
    problems: list[str] = field(default_factory=list)
    imports: list[tuple[str, str, str]] = field(default_factory=list)  # (where, module, name)
    bytes_read: int = 0
    pickled: bool = False  # it holds a pickle (itself, a zip member, an object array, compressed)


def findings(report: FileReport, rules: Rules) -> list[str]:
    """Why this file may not be loaded under the rules (empty: it may). Fail closed: unknown content,
    structural problems and every import outside the allowlist are findings."""
    out = list(report.problems)
    if report.format == "unknown":
        out.insert(0, "unknown content: no known model format")
    elif report.format not in rules.allowed_formats:
        out.insert(0, f"format {report.format} is not allowed")
    if rules.refuse_pickles and report.pickled:
        out.append("holds a pickle, and the TrustPolicy refuses pickles")
    for where, module, name in report.imports:
        if not rules.allows_import(module, name):
            place = f" in {where}" if where else ""
            out.append(f"would import {module}.{name}{place} when loaded")
    return out


def summary(reports: Sequence[FileReport], rules: Rules) -> tuple[list[str], list[str]]:
    """(the formats found, one line per refused file)."""
    formats = sorted({r.format for r in reports})
    refused = []
    for report in reports:
        found = findings(report, rules)
        if found:
            refused.append(f"{report.path} ({report.format}): {'; '.join(found)[:600]}")
    return formats, refused

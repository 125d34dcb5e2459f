"""Condition types and reasons are named only through api.condition_types.Cond and api.condition_reasons.Reason
(issue 15 item 4): a typo in a reason would silently break alerts, runbooks and `kubectl wait` users, so no
module passes a string literal where a reason goes, and the reasons the docs name exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from modelguard.api.condition_reasons import Reason
from modelguard.api.condition_types import Cond

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "modelguard"
# where a reason goes: the argument position of each constructor (or Events.record) that takes one
REASON_ARGUMENT = {
    "Verdict": 2,
    "Decision": 2,
    "Violation": 0,
    "Retry": 0,
    "VerificationError": 0,
    "Deferred": 0,
    "HttpStatusError": 0,
    "record": 2,
    "__init__": 0,  # super().__init__(reason, message) of a Retry or VerificationError subclass
}


def _literal_reasons(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        index = REASON_ARGUMENT.get(name)
        values = [k.value for k in node.keywords if k.arg == "reason"]
        if index is not None and len(node.args) > index:
            values.append(node.args[index])
        for value in values:
            branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            found += [
                (node.lineno, b.value) for b in branches if isinstance(b, ast.Constant) and isinstance(b.value, str)
            ]
    return found


def test_the_guard_finds_a_literal_reason() -> None:
    code = 'Verdict(Cond.READY, "False", "Oops", "")\nraise Retry("Later", "m")\nx = Verdict(t, s, Reason.READY)'
    assert _literal_reasons(ast.parse(code)) == [(1, "Oops"), (2, "Later")]


def test_no_module_writes_a_reason_as_a_string_literal() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "cli":  # CLI usage errors are exit messages, not condition reasons
            continue
        offenders += [
            f"{path.relative_to(PACKAGE)}:{line} {value!r}"
            for line, value in _literal_reasons(ast.parse(path.read_text()))
        ]
    assert offenders == []


def test_every_reason_the_docs_name_exists() -> None:
    text = (ROOT / "docs" / "verification.md").read_text()
    section = text[text.index("## Status") :]
    section = section[: section.index("\n## ", 10)] if "\n## " in section[10:] else section
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", section)) - {"Reason", "Cond"}  # the enums themselves
    assert len(named) > 30  # the table was found
    known = {r.value for r in Reason} | {c.value for c in Cond}
    assert sorted(named - known) == []


def test_reason_values_are_unique_and_camel_case() -> None:
    values = [r.value for r in Reason]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", v) for v in values)

"""Chat templates (Jinja) checked for constructs that reach Python internals (pure).

A model's chat template is rendered by its loader; llama-cpp-python rendered GGUF templates with an unsandboxed
Jinja environment (CVE-2024-34359), where `().__class__.__base__.__subclasses__()` reaches every class and so
`os.popen`. Jinja is not a dependency here (nor of the init containers), so this is a lexical check made with
Jinja's own lexical rules (its delimiters, whitespace control, raw blocks, bracket balancing inside tags, string
escapes): a template is refused when

- it names a Python internal: any name or string starting with `_` or holding `__`, and the attributes Jinja's
  sandbox refuses (`mro`, frame, generator, coroutine and traceback attributes), `os`, `popen`, `eval`, `exec`
  and their like;
- it turns a computed string into an attribute lookup, which would let it spell a name this check never sees:
  the `attr` filter, `str.format`, an `attribute` argument of `map`, `selectattr`, `groupby`, `sort` and their
  like that is not a string literal, a subscript whose key is not a literal or index arithmetic over names no
  string was built into (the model's own token strings, `bos_token` and the like, count as built: the model
  chooses them);
- it loads another template (`include`, `import`, `extends`, `from`), cannot be read as Jinja reads it, or is
  longer than MAX_TEMPLATE.

It cannot follow values through every expression (a lexical check is not a sandbox), so it errs on refusing;
loaders should still render in a sandbox (llama-cpp-python does since 0.2.72, transformers always did).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TEMPLATE = 128 * 1024  # characters; the largest templates models ship (tool use, multimodal) are ~40k
# Attributes Jinja's sandbox refuses or that lead to code, and names of what runs code
INTERNALS = frozenset(
    {
        "mro",
        "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await",
        "tb_frame", "tb_next", "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "co_code",
        "func_globals", "func_code", "attr", "format_map",
        "os", "sys", "subprocess", "popen", "system", "eval", "exec", "compile", "builtins", "importlib",
        "import_module", "import", "globals", "getattr", "setattr", "delattr", "breakpoint",
    }
)  # fmt: skip
STRING_INTERNALS = INTERNALS - {"system"}  # `message['role'] == 'system'` is every template's first line
LOADS = frozenset({"include", "import", "extends", "from"})
# filters whose arguments name attributes: the positional indexes that do (map's first is a filter name)
ATTRIBUTE_FILTERS = {
    "map": (0,), "selectattr": (0,), "rejectattr": (0,), "groupby": (0,), "sum": (0,),
    "join": (1,), "unique": (1,), "min": (1,), "max": (1,), "sort": (2,),
}  # fmt: skip
NUMERIC_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round"})
LITERALS = frozenset({"true", "false", "none", "True", "False", "None"})
NOT_SUBSCRIPTED = frozenset({"in", "not", "and", "or", "is", "if", "else", "elif", "for", "set", "with", "recursive"})

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<number>\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[^\W\d]\w*)"
    r"|(?P<op>//|\*\*|==|!=|<=|>=|[-+*/%~\[\](){}<>=.:|,;])",
    re.S,
)
_OPENER = re.compile(r"\{\{|\{%|\{#")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Token:
    kind: str  # string (its value decoded), number, name, op
    value: str


@dataclass
class _Reading:
    problems: list[str] = field(default_factory=list)
    internals: set[str] = field(default_factory=set)  # the Python internals it names
    built: set[str] = field(default_factory=set)  # names (and dotted paths) a string may have been built into


def template_problems(template: str) -> list[str]:
    """Why rendering this template outside a sandbox could run code (empty: nothing found)."""
    if len(template) > MAX_TEMPLATE:
        return [f"chat template is longer than the {MAX_TEMPLATE} characters inspected"]
    reading = _Reading()
    try:
        for tokens in tags(template):
            _check(tokens, reading)
    except ValueError as exc:
        return [f"chat template cannot be read as Jinja reads it ({exc})"]
    named = [f"names Python internals ({', '.join(repr(n[:40]) for n in sorted(reading.internals)[:8])})"]
    return (named if reading.internals else []) + sorted(set(reading.problems))[:10]


def tags(template: str) -> list[list[Token]]:
    """The tokens of every `{{ }}` and `{% %}` tag, in order; comments and raw blocks are text. ValueError for
    what Jinja would not lex."""
    out: list[list[Token]] = []
    at = 0
    while True:
        found = _OPENER.search(template, at)
        if found is None:
            return out
        start, opener = found.start(), found.group()
        if opener == "{#":
            end = template.find("#}", start + 2)
            if end < 0:
                raise ValueError("a comment is not closed")
            at = end + 2
            continue
        tokens, at = _lex_tag(template, start + 2, "}}" if opener == "{{" else "%}")
        out.append(tokens)
        if opener == "{%" and [t.value for t in tokens] == ["raw"]:
            raw_end = _ENDRAW.search(template, at)
            if raw_end is None:
                raise ValueError("a raw block is not closed")
            at = raw_end.end()


def _lex_tag(template: str, at: int, closer: str) -> tuple[list[Token], int]:
    """Tokens up to the closing delimiter, which counts only outside brackets (as Jinja's lexer balances)."""
    if template[at : at + 1] in ("-", "+"):
        at += 1
    tokens: list[Token] = []
    stack: list[str] = []
    while at < len(template):
        if not stack:
            for end in ("-" + closer, "+" + closer, closer):
                if template.startswith(end, at):
                    return tokens, at + len(end)
        match = _TOKEN.match(template, at)
        if match is None:
            raise ValueError(f"unexpected {template[at : at + 10]!r}")
        at = match.end()
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "ws":
            continue
        if kind == "string":
            text = _unescape(text[1:-1])
        elif text in _CLOSE:
            stack.append(_CLOSE[text])
        elif text in (")", "]", "}") and (not stack or stack.pop() != text):
            raise ValueError(f"unbalanced {text!r}")
        tokens.append(Token(kind, text))
    raise ValueError("a tag is not closed")


def _is(token: Token, op: str) -> bool:
    return token.kind == "op" and token.value == op


def _unescape(body: str) -> str:
    """A string literal's value as Jinja's lexer decodes it (Python's unicode escapes: `\\x5f` is `_`)."""
    try:
        return body.encode("ascii", "backslashreplace").decode("unicode-escape")
    except UnicodeDecodeError as exc:
        raise ValueError(f"a string literal has a bad escape ({exc.reason})") from None


def _check(tokens: list[Token], reading: _Reading) -> None:
    if tokens and tokens[0].kind == "name" and tokens[0].value in LOADS:
        reading.problems.append(f"loads another template ({tokens[0].value})")
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else None
        attribute = before is not None and _is(before, ".")
        internal = _internal_name(token.value, attribute) if token.kind == "name" else _internal_string(token.value)
        if token.kind in ("name", "string") and internal:
            reading.internals.add(token.value)
        if token.kind == "name" and token.value == "format" and attribute:
            reading.problems.append("calls str.format, which looks attributes up by computed names")
        if token.kind == "name" and token.value in ATTRIBUTE_FILTERS and _is_filter(tokens, i):
            _check_attribute_arguments(token.value, tokens, i + 1, reading)
        if _is(token, "[") and _subscripts(before):
            _check_subscript(tokens, i, reading)
    _note_built(tokens, reading)


def _internal_name(name: str, attribute: bool) -> bool:
    """An attribute starting with `_` (Jinja's sandbox refuses them all), a dunder name anywhere, or a name of
    INTERNALS (`system` only as an attribute: `os.system`). A local variable may start with one `_` (`_args`)."""
    if attribute:
        return name.startswith("_") or name in INTERNALS
    return name.startswith("__") or (name in INTERNALS and name != "system")


def _internal_string(value: str) -> bool:
    """A string that spells an internal: holds a dunder name, a dotted part starting with `_`, or is one."""
    dunder = re.search(r"__[^\W\d_]\w*__|(?:^|\.)_[^\W\d_]", value) is not None
    return dunder or value.strip() in STRING_INTERNALS


def _is_filter(tokens: list[Token], i: int) -> bool:
    """A filter call: `|name(` or `{% filter name(`."""
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    if after is None or not _is(after, "("):
        return False
    return (i > 0 and _is(tokens[i - 1], "|")) or (i == 1 and tokens[0].value == "filter")


def _check_attribute_arguments(name: str, tokens: list[Token], opening: int, reading: _Reading) -> None:
    arguments = _arguments(tokens, opening)
    positional = [a for a in arguments if not (len(a) > 1 and a[0].kind == "name" and _is(a[1], "="))]
    named = {a[0].value: a[2:] for a in arguments if len(a) > 1 and a[0].kind == "name" and _is(a[1], "=")}
    chosen = [positional[n] for n in ATTRIBUTE_FILTERS[name] if n < len(positional)]
    if "attribute" in named:
        chosen.append(named["attribute"])
    chosen += [a for a in arguments if a[0].kind == "op" and a[0].value in ("*", "**")]  # splatted arguments
    for argument in chosen:
        if not (len(argument) == 1 and (argument[0].kind in ("string", "number") or argument[0].value in LITERALS)):
            reading.problems.append(f"the {name} filter takes an attribute name that is not a literal")


def _arguments(tokens: list[Token], opening: int) -> list[list[Token]]:
    """The comma-separated arguments of the call whose `(` is tokens[opening]."""
    out: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[opening + 1 :]:
        if token.kind == "op" and token.value in _CLOSE:
            depth += 1
        elif token.kind == "op" and token.value in (")", "]", "}"):
            if depth == 0:
                break
            depth -= 1
        elif _is(token, ",") and depth == 0:
            out.append([])
            continue
        out[-1].append(token)
    return [a for a in out if a]


def _subscripts(before: Token | None) -> bool:
    """`[` after a value is a subscript (after an operator or a keyword it opens a list)."""
    if before is None:
        return False
    if before.kind == "name":
        return before.value not in NOT_SUBSCRIPTED
    return before.kind == "string" or (before.kind == "op" and before.value in (")", "]"))


def _check_subscript(tokens: list[Token], opening: int, reading: _Reading) -> None:
    key: list[Token] = []
    depth = 0
    for token in tokens[opening + 1 :]:
        if _is(token, "["):
            depth += 1
        elif _is(token, "]"):
            if depth == 0:
                break
            depth -= 1
        key.append(token)
    if len(key) == 1 and key[0].kind == "string":
        return  # a literal key, checked as a string
    for j, token in enumerate(key):
        called = _is(token, "(") and j > 0 and key[j - 1].kind == "name"
        allowed = token.kind in ("name", "number") or (
            token.kind == "op" and token.value in (".", ":", "+", "-", "(", ")")
        )
        if called or not allowed:
            reading.problems.append("a subscript's key is computed (a computed name reaches any attribute)")
            return
    if any(_built(path, reading) for path in _paths(key)):
        reading.problems.append("a subscript's key is a name a string was built into")


def _paths(tokens: list[Token], counted: bool = False) -> list[str]:
    """The dotted names (`a`, `ns.k`) among tokens; `counted`: without those only counted (`a|length`)."""
    paths: list[tuple[str, int]] = []
    for j, token in enumerate(tokens):
        if token.kind != "name":
            continue
        if j >= 2 and _is(tokens[j - 1], ".") and tokens[j - 2].kind == "name" and paths:
            paths[-1] = (paths[-1][0] + "." + token.value, j)
        else:
            paths.append((token.value, j))
    return [
        path
        for path, end in paths
        if not (
            counted and end + 2 < len(tokens) and _is(tokens[end + 1], "|") and tokens[end + 2].value in NUMERIC_FILTERS
        )
    ]


def _built(path: str, reading: _Reading) -> bool:
    parts = path.split(".")
    if parts[0].endswith("_token") or parts[0].endswith("_tokens"):
        return True  # the model's own special tokens: strings the attacker chose
    return any(".".join(parts[: n + 1]) in reading.built for n in range(len(parts)))


def _note_built(tokens: list[Token], reading: _Reading) -> None:
    """Names a statement binds to a value a string may have been built into: `set` (and block `set`), `for`,
    `with`, and every macro and call-block parameter (their values come from the caller)."""
    if not tokens or tokens[0].kind != "name":
        return
    statement = tokens[0].value
    if statement in ("macro", "call"):
        reading.built.update(t.value for t in tokens[1:] if t.kind == "name")
        return
    if statement == "set":
        split = next((j for j, t in enumerate(tokens) if _is(t, "=")), None)
        if split is None:  # `{% set name %}...{% endset %}`: the block's text
            reading.built.update(_paths(tokens[1:]))
        elif _builds_string(tokens[split + 1 :], reading):
            reading.built.update(_paths(tokens[1:split]))
    elif statement == "for":
        split = next((j for j, t in enumerate(tokens) if t.kind == "name" and t.value == "in"), len(tokens))
        if _builds_string(tokens[split + 1 :], reading):
            reading.built.update(_paths(tokens[1:split]))
    elif statement == "with" and _builds_string(tokens[1:], reading):
        reading.built.update(_paths(tokens[1:]))


def _builds_string(expression: list[Token], reading: _Reading) -> bool:
    """Whether an expression may build a string: a literal, concatenation, formatting, repetition, a call
    other than namespace() and range(), a filter that is not numeric, or a built name not only counted."""
    for j, token in enumerate(expression):
        before = expression[j - 1] if j else None
        if token.kind == "string" or (token.kind == "op" and token.value in ("~", "%", "*")):
            return True
        if _is(token, "(") and before is not None and before.kind == "name":
            method = j >= 2 and (_is(expression[j - 2], ".") or _is(expression[j - 2], "|"))
            if method or before.value not in ("namespace", "range"):
                return True
        if before is not None and _is(before, "|") and token.kind == "name" and token.value not in NUMERIC_FILTERS:
            return True
    return any(_built(path, reading) for path in _paths(expression, counted=True))

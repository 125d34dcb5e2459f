"""One provider per source scheme (issue 28 item 3, ADR 0021): the file/https/oci switch appeared in five places
(verify, inspect, the pods' fetch, the credentials' origin, a decommission's delete) and the OCI client was
built four ways. Now `adapters/sources.provider_for` chooses, once, and a new kind of source is one module
there. This test walks the syntax tree of every module of the operator and fails on a scheme switch anywhere
else, and on an OCI client built anywhere but the OCI provider."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from modelguard.adapters.sources import PROVIDERS, provider_for
from modelguard.adapters.sources.file import FileProvider
from modelguard.adapters.sources.https import HttpsProvider
from modelguard.adapters.sources.oci import OciProvider
from modelguard.domain.errors import VerificationError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "modelguard"
PROVIDERS_PACKAGE = PACKAGE / "adapters" / "sources"
# The API validates what a spec may name (patterns, CEL, URI shape): which schemes exist is part of the API.
API = PACKAGE / "api"
# the schemes of today's providers and of those the next issues add
SCHEMES = frozenset({*PROVIDERS, "s3", "hf", "pvc", "gs", "gcs", "az", "git"})
URL_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://")
# Checks of a URL's transport, not a choice of source: kept, each with its reason.
TRANSPORT = {
    ("adapters/http.py", "scheme_allowed"): "requests go over https, or http to loopback and the model cache",
    ("cli/run.py", "sink_url_ok"): "the audit sink is https, or http to loopback",
    ("domain/credentials.py", "<module>"): "the default ports of http(s) origins",
}


def _is_scheme(node: ast.AST) -> bool:
    """A scheme name ("oci") or a URL prefix ("oci://"), alone or in a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in SCHEMES or (URL_PREFIX.match(node.value) is not None and node.value.endswith("://"))
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_scheme(e) for e in node.elts)
    return False


def _starts_with_scheme(node: ast.AST) -> bool:
    """A URL prefix string (`"oci://"`, or the start of a URL such as `"https://host"`) in a prefix test."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return URL_PREFIX.match(node.value) is not None
    if isinstance(node, ast.Tuple):
        return any(_starts_with_scheme(e) for e in node.elts)
    return False


def scheme_switches(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, enclosing function or <module>) of every place that branches on a URI's scheme: a comparison or
    membership test with a scheme, a prefix test with a URL prefix, a `case "oci":`, a table keyed by schemes."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else where
            hit = False
            if isinstance(child, ast.Compare):
                hit = any(_is_scheme(operand) for operand in (child.left, *child.comparators))
            elif isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                if child.func.attr in ("startswith", "removeprefix", "endswith"):
                    hit = any(_starts_with_scheme(arg) for arg in child.args)
            elif isinstance(child, ast.MatchValue):
                hit = _is_scheme(child.value)
            elif isinstance(child, ast.Dict):
                hit = any(key is not None and _is_scheme(key) for key in child.keys)
            if hit:
                found.append((child.lineno if hasattr(child, "lineno") else 0, inner))
            visit(child, inner)

    visit(tree, "<module>")
    return found


@pytest.mark.parametrize(
    "code",
    [
        'if uri.startswith("s3://"):\n    pass',
        'ok = uri.startswith(("https://", "http://"))',
        'if scheme == "hf":\n    pass',
        'if parts.scheme in ("https", "oci") and not parts.hostname:\n    pass',
        'if "pvc" != scheme:\n    pass',
        'match scheme:\n    case "oci":\n        pass',
        "handlers = {'file': read_file, 'oci': read_blob}",
        'if uri.removeprefix("oci://"):\n    pass',
    ],
)
def test_the_guard_finds_a_scheme_switch(code: str) -> None:
    assert scheme_switches(ast.parse(code)), code


@pytest.mark.parametrize(
    "code",
    [
        'if serialization.method == "files":\n    pass',
        'url = f"http://{host}:{port}"',
        'scheme, _, rest = uri.partition("://")',
        'PREDICATE = "https://model_signing/signature/v1.0"',
        'if kind == "OCIManifest":\n    pass',
    ],
)
def test_the_guard_leaves_other_strings_alone(code: str) -> None:
    assert scheme_switches(ast.parse(code)) == [], code


def test_the_scheme_is_switched_on_only_by_the_provider_registry() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if PROVIDERS_PACKAGE in path.parents or API in path.parents:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        for line, where in scheme_switches(ast.parse(path.read_text(), str(path))):
            if (rel, where) not in TRANSPORT:
                offenders.append(f"{rel}:{line} in {where}")
    assert offenders == [], (
        "a switch on the source scheme outside adapters/sources: add or extend a provider there instead "
        f"(ADR 0021): {offenders}"
    )


def test_the_oci_client_is_built_only_by_the_oci_provider() -> None:
    builders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name == "Registry":
                    builders.append(path.relative_to(PACKAGE).as_posix())
    assert builders == ["adapters/sources/oci.py"]


@pytest.mark.parametrize(
    ("uri", "provider"),
    [
        ("file:///models/m", FileProvider),
        ("https://models.example/m/", HttpsProvider),
        ("http://10.0.0.7:8090", HttpsProvider),  # the model cache the pods fetch from (--via)
        ("oci://registry.example/m@sha256:" + "a" * 64, OciProvider),
    ],
)
def test_each_scheme_has_one_provider(uri: str, provider: type) -> None:
    assert isinstance(provider_for(uri), provider)


@pytest.mark.parametrize("uri", ["s3://bucket/m", "ftp://host/m", "/models/m", "oci:registry/m", ""])
def test_a_scheme_no_provider_reads_is_an_invalid_source(uri: str) -> None:
    with pytest.raises(VerificationError) as refused:
        provider_for(uri)
    assert refused.value.reason == "InvalidSource"


def test_only_registry_artifacts_are_deleted_by_a_decommission() -> None:
    deletable = {scheme: p.deletable for scheme, p in PROVIDERS.items()}
    assert {scheme for scheme, d in deletable.items() if d is not None} == {"oci"}
    assert deletable["oci"] is not None and (deletable["oci"].kind, deletable["oci"].method) == (
        "OCIManifest",
        "RegistryDelete",
    )  # the names decommission certificates already record

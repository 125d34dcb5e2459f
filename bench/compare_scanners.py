"""Compare model-file scanners on the inspection corpus (issue 17): which refuses each malicious sample and
passes each benign one. Run by `make compare-scanners`, which installs the pinned scanners into a venv of
their own (they are not ModelGuard's dependencies) and writes docs/inspection-engines.md.

Each engine gets the file as a user would give it. Verdicts: `refused` (it reports a problem), `passed`,
`skipped` (it says it does not handle the file), `error` (it failed). For a security gate only `refused` on
a malicious sample counts as caught, and `passed` on a benign sample as right.
Ends with one line: `SCANNERS <engine>=<malicious caught>/<malicious>:<benign passed>/<benign> ...`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "operator")]

from tests.harness.model_corpus import Sample, write_corpus  # noqa: E402

BIN = Path(sys.executable).parent
QUIET = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_ANALYTICS": "1", "IS_TESTING": "1"}


def modelguard(path: Path) -> str:
    from modelguard.adapters.inspector import inspect_file
    from modelguard.domain.inspection import Rules, findings

    rules = Rules.parse("all")  # every format allowed: what is refused, content refused
    return "refused" if findings(inspect_file(path, path.name), rules) else "passed"


def picklescan(path: Path) -> str:
    from picklescan.scanner import scan_file_path

    result = scan_file_path(str(path))
    if result.issues_count or result.infected_files:
        return "refused"
    if result.scan_err:
        return "error"
    return "passed" if result.scanned_files else "skipped"


def fickling(path: Path) -> str:
    import fickling as f

    try:
        result = f.scan_file(str(path), graceful=True)
    except Exception:
        return "error"
    if not result.is_safe:
        return "refused"
    return "error" if result.errors else "passed"


def modelscan(path: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        run = subprocess.run(
            [str(BIN / "modelscan"), "-p", str(path), "-r", "json", "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            env=QUIET,
            check=False,
        )
        if not out.exists():
            return "error"
        report = json.loads(out.read_text())
    if report.get("issues"):
        return "refused"
    if report.get("errors"):
        return "error"
    scanned = (report.get("summary") or {}).get("scanned", {}).get("total_scanned", 0)
    return "passed" if scanned else "skipped" if run.returncode in (0, 3) else "error"


def modelaudit(path: Path) -> str:
    run = subprocess.run(
        [str(BIN / "modelaudit"), "scan", str(path), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        env=QUIET,
        check=False,
    )
    try:
        report = json.loads(run.stdout[run.stdout.index("{") :])
    except ValueError:
        return "error"
    issues = [i for i in report.get("issues", []) if i.get("severity") in ("critical", "warning", "error")]
    if issues:
        return "refused"
    return "passed" if report.get("files_scanned", 1) else "skipped"


ENGINES: dict[str, Callable[[Path], str]] = {
    "modelguard": modelguard,
    "picklescan 1.0.5": picklescan,
    "fickling 0.1.12": fickling,
    "modelscan 0.8.8": modelscan,
    "modelaudit 0.2.54": modelaudit,
}


def verdict(engine: Callable[[Path], str], path: Path) -> str:
    try:
        return engine(path)
    except Exception as exc:  # an engine that crashes on a file did not refuse it
        return f"error ({type(exc).__name__})"


def main() -> int:
    doc = Path(sys.argv[sys.argv.index("--doc") + 1]) if "--doc" in sys.argv else None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        samples = write_corpus(directory)
        table = {
            s.name: {name: verdict(engine, directory / s.name) for name, engine in ENGINES.items()} for s in samples
        }
    rendered = render(samples, table)
    print(rendered)
    scores = []
    for name in ENGINES:
        caught = sum(1 for s in samples if s.malicious and table[s.name][name] == "refused")
        right = sum(1 for s in samples if not s.malicious and table[s.name][name] == "passed")
        bad, good = sum(s.malicious for s in samples), sum(not s.malicious for s in samples)
        scores.append(f"{name.split()[0]}={caught}/{bad}:{right}/{good}")
    line = "SCANNERS " + " ".join(scores)
    if doc is not None:
        text = doc.read_text() if doc.exists() else ""
        start, end = "<!-- table: bench/compare_scanners.py -->", "<!-- end of table -->"
        if start in text and end in text:
            text = (
                text[: text.index(start)]
                + f"{start}\n{rendered}\n\n`{line}`\n{end}"
                + text[text.index(end) + len(end) :]
            )
            doc.write_text(text)
    print(line)
    return 0


def render(samples: list[Sample], table: dict[str, dict[str, str]]) -> str:
    names = list(ENGINES)
    lines = [
        "| sample | should | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for s in samples:
        want = "refuse" if s.malicious else "pass"
        cells = []
        for name in names:
            got = table[s.name][name]
            right = (got == "refused") if s.malicious else (got == "passed")
            cells.append(got if right else f"**{got}**")
        lines.append(f"| `{s.name}` ({s.why}) | {want} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

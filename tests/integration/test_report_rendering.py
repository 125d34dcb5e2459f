"""The compliance report in a real browser (issue 19, item 5): Debian's headless Chromium renders the page
with the picture per lifecycle phase and principle in the status colours, and prints it to a PDF whose
pages keep those colours. Chromium is a required part of the test set-up (hack/install-system-deps.sh):
when it is missing this fails, it does not skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from modelguard.builders.compliance_report import COLOURS, report_html
from modelguard.domain.compliance import AuditState, Facts, assess
from modelguard.domain.compliance_document import report_json, with_history
from tests.harness.png import colours
from tests.unit.test_compliance_assurance import BARE, DEPLOYED, GOOD, LIVE, POLICY


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: run hack/install-system-deps.sh (make system-deps)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-pdf-header-footer"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_report_renders_its_picture_and_trend_and_prints(tmp_path: Path) -> None:
    document = None
    for day, model in enumerate((BARE, BARE, GOOD)):  # three reports to the same place: a trend
        facts = Facts([model], [DEPLOYED], [POLICY], audit=AuditState(1, None), live=LIVE)
        written = report_json(
            assess(facts), facts, namespace="team", generated_at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(day)
        )
        document = with_history(written, document)
    assert document is not None and len(document["history"]) == 3
    page = tmp_path / "report.html"
    page.write_text(report_html(document))
    assert "State by lifecycle phase and principle" in page.read_text() and "Trend over 3 reports" in page.read_text()

    shot = tmp_path / "shot.png"
    done = chromium("--window-size=1000,1100", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    drawn = colours(shot)
    for status, colour in COLOURS.items():  # every status present in the data shows as its colour
        if document["summary"][status]:
            assert drawn[hex_rgb(colour)] > 200, f"{status} ({colour}) is not visible in the screenshot"

    pdf = tmp_path / "report.pdf"
    done = chromium(f"--print-to-pdf={pdf}", page.as_uri())
    assert done.returncode == 0 and pdf.exists(), done.stderr[-2000:]
    data = pdf.read_bytes()
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert data.startswith(b"%PDF") and pages >= 3  # the picture, the rows and the evidence, printed
    filled = pdf_fill_colours(data)
    for status, colour in COLOURS.items():  # the printed picture keeps the status colours
        if document["summary"][status]:
            assert tuple(round(c / 255, 2) for c in hex_rgb(colour)) in filled, f"{status} is not printed in colour"


def pdf_fill_colours(data: bytes) -> set[tuple[float, ...]]:
    """The RGB fill colours the PDF's (Flate-compressed) content streams set, rounded to two places."""
    found = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue  # fonts and images
        for r, g, b in re.findall(rb"([0-9.]+) ([0-9.]+) ([0-9.]+) rg", content):
            found.add((round(float(r), 2), round(float(g), 2), round(float(b), 2)))
    return found

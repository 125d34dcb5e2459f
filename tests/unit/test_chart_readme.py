"""The chart's README lists every value with its type, default and description (issue 14, item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_chart_readme_is_current_and_lists_every_value() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "chart_readme.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    readme = (ROOT / "charts" / "modelguard" / "README.md").read_text()

    def keys(values: dict[str, object], prefix: str = "") -> list[str]:
        out = []
        for k, v in values.items():
            out += keys(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
        return out

    values = yaml.safe_load((ROOT / "charts" / "modelguard" / "values.yaml").read_text())
    for key in keys(values):
        assert f"| `{key}` |" in readme, key
    assert "| `restrictWrites` | boolean | `true` |" in readme

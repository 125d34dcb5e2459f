"""Write charts/modelguard/README.md: how to install, and a table of every value (key, type from
values.schema.json, default and the comment beside it in values.yaml). `--check` fails when it is stale.

    python hack/chart_readme.py [--check]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "modelguard"
LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")

HEAD = """# ModelGuard Helm chart

The Kubernetes operator that carries AI models through their life under ETSI TS 104 223: it verifies
signatures and digests before rollout and again where the bytes are loaded, enforces network and access
policy around every serving workload, scans, quarantines and decommissions. See the project README.

```bash
helm install modelguard charts/modelguard --namespace modelguard-system --create-namespace \\
  --set image.repository=registry.example/modelguard/operator --set image.digest=sha256:<digest> \\
  --set gateway.image=registry.example/modelguard/gateway@sha256:<digest>
kubectl label namespace <team> modelguard.io/enabled=true   # where ModelGuard may deploy (restrictWrites)
```

Helm installs `crds/` on first install and never upgrades them: apply them before `helm upgrade`
(docs/operations.md). With Argo CD, use cert-manager or `webhook.existingSecret` for the webhook
certificate (docs/gitops.md). Permissions: docs/rbac.md. Metrics and alerts: docs/metrics.md.

## Values

Generated from `values.yaml` and `values.schema.json` by `hack/chart_readme.py`; the schema rejects
unknown keys.

| key | type | default | description |
|---|---|---|---|
"""


def comments() -> dict[str, str]:
    """Dotted key -> the comment on its line (and on the following comment-only lines of a block)."""
    out: dict[str, str] = {}
    path: list[tuple[int, str]] = []
    above: list[str] = []  # the comment lines right above a key
    for raw in (CHART / "values.yaml").read_text().splitlines():
        if raw.strip().startswith("#"):
            above.append(raw.strip().lstrip("#").strip())
            continue
        match = LINE.match(raw)
        if not match:
            above = []
            continue
        indent = len(match["indent"])
        path = [(i, k) for i, k in path if i < indent] + [(indent, match["key"])]
        _, _, note = match["rest"].partition("#")
        text = note.strip() or " ".join(above)
        if text:
            out[".".join(k for _, k in path)] = text
        above = []
    return out


def type_of(schema: dict[str, Any], key: str) -> str:
    node: dict[str, Any] = schema
    for part in key.split("."):
        node = (node.get("properties") or {}).get(part) or {}
    if "enum" in node:
        return " \\| ".join(str(v) for v in node["enum"])
    return str(node.get("type", ""))


def rows(values: dict[str, Any], schema: dict[str, Any], notes: dict[str, str], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += rows(value, schema, notes, dotted + ".")
            continue
        shown = json.dumps(value) if not isinstance(value, str) else (f'"{value}"' if value else '""')
        note = notes.get(dotted, "").replace("|", "\\|")
        out.append(f"| `{dotted}` | {type_of(schema, dotted)} | `{shown}` | {note} |")
    return out


def render() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    return HEAD + "\n".join(rows(values, schema, comments())) + "\n"


def main(argv: list[str]) -> int:
    target = CHART / "README.md"
    text = render()
    if "--check" in argv:
        if not target.exists() or target.read_text() != text:
            print("charts/modelguard/README.md is stale: run python hack/chart_readme.py", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

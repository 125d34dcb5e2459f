"""The compliance report as a standalone HTML page (pure: the JSON document in, HTML out)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any


def _anchor(key: str) -> str:
    return "ev-" + "".join(c if c.isalnum() else "-" for c in key)


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #d0d7de;padding:.35rem .5rem;vertical-align:top;font-size:.9rem}th{background:#f6f8fa}
.met{background:#dafbe1}.not-met{background:#ffebe9}.not-applicable{background:#f6f8fa}
.organisational{background:#fff8c5}.disclaimer{border-left:4px solid #bf8700;padding:.5rem 1rem;background:#fff8c5}
code{font-size:.85rem}
"""


def report_html(document: Mapping[str, Any]) -> str:
    e = html.escape
    summary = " · ".join(f"{count} {status}" for status, count in document["summary"].items())
    titles = document["principles"]
    rows, current = [], None
    for item in document["provisions"]:
        if item["clause"] != current:
            current = item["clause"]
            rows.append(f'<tr><th colspan="5">{e(titles.get(current, current))}</th></tr>')
        links = "<br>".join(f'<a href="#{_anchor(k)}">{e(k)}</a>' for k in item["evidence"][:20])
        css = item["status"].replace(" ", "-")
        checked = "" if item["checked"] else " (not checked by ModelGuard)"
        rows.append(
            f'<tr class="{css}"><td><b>{e(item["id"])}</b><br>{e(item["norm"])} · {e(item["role"])}</td>'
            f"<td>{e(item['text'])}</td><td><b>{e(item['status'])}</b>{e(checked)}</td>"
            f"<td>{e(item['note'])}</td><td>{links}</td></tr>"
        )
    evidence = []
    for key, item in document["evidence"].items():
        facts = "".join(f"<li>{e(line)}</li>" for line in item["facts"])
        evidence.append(
            f'<h3 id="{_anchor(key)}">{e(key)}</h3><ul>{facts}</ul><p><code>{e(item["command"])}</code></p>'
        )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(document["title"])}</title>'
        f"<style>{CSS}</style></head><body><h1>{e(document['title'])}</h1>"
        f'<p class="disclaimer">{e(document["disclaimer"])}</p>'
        f"<p>Scope: {e(document['scope']['namespace'])} · generated {e(document['generatedAt'])}</p>"
        f"<p><b>{e(summary)}</b></p>"
        "<table><tr><th>Provision</th><th>Requirement (paraphrased)</th><th>Status</th><th>Why</th>"
        f"<th>Evidence</th></tr>{''.join(rows)}</table><h2>Evidence</h2>{''.join(evidence)}</body></html>\n"
    )

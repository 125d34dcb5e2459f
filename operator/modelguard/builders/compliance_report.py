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
.organisational{background:#fff8c5}.refs{color:#57606a;font-size:.8rem}
.disclaimer{border-left:4px solid #bf8700;padding:.5rem 1rem;background:#fff8c5}
code{font-size:.85rem}
"""


SHORT = {"eu-ai-act": "EU AI Act", "nist-ai-rmf": "NIST AI RMF", "iso-42001": "ISO 42001", "iso-27001": "ISO 27001"}


def _refs(frameworks: Mapping[str, list[str]]) -> str:
    lines = [f"{SHORT.get(key, key)}: {', '.join(refs)}" for key, refs in frameworks.items()]
    return f'<div class="refs">{"<br>".join(html.escape(line) for line in lines)}</div>' if lines else ""


def _cross_references(section: Mapping[str, Any], statuses: list[str]) -> str:
    """One table per framework: each article / subcategory / control with the statuses of the provisions
    that support it."""
    e = html.escape
    parts = [f'<h2>Cross-references</h2><p class="disclaimer">{e(section["reading"])}</p>']
    head = "".join(f"<th>{e(s)}</th>" for s in statuses)
    for framework in section["frameworks"].values():
        rows = "".join(
            f"<tr><td>{e(key)}</td>"
            + "".join(f'<td class="{s.replace(" ", "-") if counts[s] else ""}">{counts[s]}</td>' for s in statuses)
            + "</tr>"
            for key, counts in framework["references"].items()
        )
        parts.append(
            f"<h3>{e(framework['title'])}</h3><table><tr><th>{e(framework['unit'])}</th>{head}</tr>{rows}</table>"
        )
    return "".join(parts)


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
            f'<tr class="{css}"><td><b>{e(item["id"])}</b><br>{e(item["norm"])} · {e(item["role"])}'
            f"{_refs(item.get('frameworks') or {})}</td>"
            f"<td>{e(item['text'])}</td><td><b>{e(item['status'])}</b>{e(checked)}</td>"
            f"<td>{e(item['note'])}</td><td>{links}</td></tr>"
        )
    evidence = []
    for key, item in document["evidence"].items():
        facts = "".join(f"<li>{e(line)}</li>" for line in item["facts"])
        evidence.append(
            f'<h3 id="{_anchor(key)}">{e(key)}</h3><ul>{facts}</ul><p><code>{e(item["command"])}</code></p>'
        )
    section = document.get("crossReferences")
    cross = _cross_references(section, list(document["summary"])) if section else ""
    scope = document["scope"]
    framework = f" · framework {scope['framework']}" if scope.get("framework", "(all)") != "(all)" else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(document["title"])}</title>'
        f"<style>{CSS}</style></head><body><h1>{e(document['title'])}</h1>"
        f'<p class="disclaimer">{e(document["disclaimer"])}</p>'
        f"<p>Scope: {e(scope['namespace'])}{e(framework)} · generated {e(document['generatedAt'])}</p>"
        f"<p><b>{e(summary)}</b></p>"
        "<table><tr><th>Provision</th><th>Requirement (paraphrased)</th><th>Status</th><th>Why</th>"
        f"<th>Evidence</th></tr>{''.join(rows)}</table>{cross}<h2>Evidence</h2>{''.join(evidence)}</body></html>\n"
    )

"""The compliance report as a standalone HTML page (pure: the JSON document in, HTML out)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
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
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.phases{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.75rem;margin:1rem 0}
.phase{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .75rem;break-inside:avoid}
.phase h4{margin:.1rem 0 .4rem;font-size:.95rem}.tile{margin:.35rem 0;font-size:.85rem}
.bar{display:flex;height:.8rem;border-radius:3px;overflow:hidden;background:#eaeef2;margin:.15rem 0}
.bar span{display:block;height:100%}.bar .met{background:#2da44e}.bar .not-met{background:#cf222e}
.bar .not-applicable{background:#afb8c1}.bar .organisational{background:#d4a72c}
.key span{display:inline-block;width:.7rem;height:.7rem;margin:0 .25rem 0 .75rem;vertical-align:middle}
.trend{max-width:40rem}.trend text{font-size:11px;fill:#57606a}
@media print{body{margin:0}.phase,.tile,tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""

COLOURS = {"met": "#2da44e", "not met": "#cf222e", "not applicable": "#afb8c1", "organisational": "#d4a72c"}


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


def _bar(counts: Mapping[str, int]) -> str:
    total = sum(counts.values()) or 1
    return (
        '<div class="bar">'
        + "".join(
            f'<span class="{s.replace(" ", "-")}" style="width:{100 * n / total:.1f}%" title="{n} {s}"></span>'
            for s, n in counts.items()
            if n
        )
        + "</div>"
    )


def _picture(principles: Sequence[Mapping[str, Any]], statuses: Sequence[str]) -> str:
    """The state per lifecycle phase and principle, before any row: one tile per principle."""
    e = html.escape
    phases: dict[str, list[str]] = {}
    for p in principles:
        counts = p["counts"]
        said = " · ".join(f"{n} {s}" for s, n in counts.items() if n)
        phases.setdefault(p["phase"], []).append(
            f'<div class="tile">{e(str(p["number"]))}. {e(p["title"])} ({e(p["clause"])}){_bar(counts)}'
            f"<small>{e(said)}</small></div>"
        )
    key = "".join(f'<span style="background:{COLOURS[s]}"></span>{e(s)}' for s in statuses)
    cards = "".join(f'<div class="phase"><h4>{e(phase)}</h4>{"".join(tiles)}</div>' for phase, tiles in phases.items())
    return f'<h2>State by lifecycle phase and principle</h2><p class="key">{key}</p><div class="phases">{cards}</div>'


def _trend(history: Sequence[Mapping[str, Any]]) -> str:
    """Met and not met across the reports written before into the same place (report.json's history)."""
    e = html.escape
    if len(history) < 2:
        return "<p>Trend: shown once this report has been written more than once to the same place.</p>"
    width, height, pad = 600, 160, 30
    top = max(max(h["summary"].get(s, 0) for s in ("met", "not met")) for h in history) or 1
    step = (width - 2 * pad) / (len(history) - 1)

    def line(status: str) -> str:
        points = " ".join(
            f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * h['summary'].get(status, 0) / top:.1f}"
            for i, h in enumerate(history)
        )
        return f'<polyline fill="none" stroke="{COLOURS[status]}" stroke-width="2" points="{points}"/>'

    first, last = history[0], history[-1]
    labels = (
        f'<text x="{pad}" y="{height - 8}">{e(str(first["generatedAt"]))}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">{e(str(last["generatedAt"]))}</text>'
        f'<text x="2" y="{pad}">{top}</text><text x="2" y="{height - pad}">0</text>'
    )
    change = last["summary"].get("met", 0) - first["summary"].get("met", 0)
    return (
        f"<h3>Trend over {len(history)} reports</h3>"
        f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" aria-label="provisions met and not met '
        f'over time">{line("met")}{line("not met")}{labels}</svg>'
        f"<p>Met {first['summary'].get('met', 0)} → {last['summary'].get('met', 0)} ({change:+d}); not met "
        f"{first['summary'].get('not met', 0)} → {last['summary'].get('not met', 0)}.</p>"
    )


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
        f"{_picture(document.get('byPrinciple') or [], list(document['summary']))}"
        f"{_trend(document.get('history') or [])}<h2>Provisions</h2>"
        "<table><tr><th>Provision</th><th>Requirement (paraphrased)</th><th>Status</th><th>Why</th>"
        f"<th>Evidence</th></tr>{''.join(rows)}</table>{cross}<h2>Evidence</h2>{''.join(evidence)}</body></html>\n"
    )

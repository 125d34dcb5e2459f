"""Known-vulnerable components: a CycloneDX SBOM matched against OSV advisories (pure).

OSV entries (https://ossf.github.io/osv-schema/) name affected packages by purl or ecosystem + name,
with explicit `versions` and/or `ranges` of `introduced`/`fixed`/`last_affected` events. Versions are
compared component-wise (numbers numerically, other parts as text), which fits SemVer, PyPI and most
ecosystems' ordinary versions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelguard.api.scanreport import Severity


@dataclass(frozen=True)
class Component:
    purl: str  # without version
    version: str
    name: str


@dataclass(frozen=True)
class Match:
    component: Component
    advisory: str
    severity: Severity
    summary: str
    fixed: str | None


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"[.\-+_]", version.lstrip("vV"))
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _purl_base(purl: str) -> tuple[str, str | None]:
    base, _, version = purl.partition("@")
    return base.split("?")[0].lower(), (version.split("?")[0] or None)


def components(sbom: Mapping[str, Any]) -> list[Component]:
    """Components with a purl and a version from a CycloneDX JSON document (nested components too)."""
    out: list[Component] = []

    def walk(items: Iterable[Any]) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            purl = item.get("purl")
            if isinstance(purl, str) and purl.startswith("pkg:"):
                base, from_purl = _purl_base(purl)
                version = str(item.get("version") or from_purl or "")
                if version:
                    out.append(Component(base, version, str(item.get("name") or base)))
            walk(item.get("components") or [])

    walk(sbom.get("components") or [])
    return out


def parse_sbom(raw: bytes) -> list[Component]:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ValueError("the SBOM is not JSON") from None
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise ValueError("the SBOM is not a CycloneDX JSON document")
    return components(doc)


def parse_advisories(texts: Iterable[str]) -> list[dict[str, Any]]:
    """OSV entries from documents holding one entry, a list, or {"vulns": [...]}; others are skipped."""
    out: list[dict[str, Any]] = []
    for text in texts:
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        entries = doc.get("vulns", [doc]) if isinstance(doc, dict) else doc if isinstance(doc, list) else []
        out.extend(e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str))
    return out


_CVSS_HINTS = (("CRITICAL", "Critical"), ("HIGH", "High"), ("MODERATE", "Medium"), ("MEDIUM", "Medium"), ("LOW", "Low"))


def severity(entry: Mapping[str, Any]) -> Severity:
    text = str((entry.get("database_specific") or {}).get("severity") or "").upper()
    for hint, level in _CVSS_HINTS:
        if hint in text:
            return level  # type: ignore[return-value]
    for score in entry.get("severity") or []:
        value = str((score or {}).get("score", ""))
        try:
            number = float(value)
        except ValueError:
            continue
        return "Critical" if number >= 9 else "High" if number >= 7 else "Medium" if number >= 4 else "Low"
    return "High"  # unknown severity: treat as serious (fail towards attention)


def _affected(version: str, affected: Mapping[str, Any]) -> tuple[bool, str | None]:
    if version in (affected.get("versions") or []):
        return True, None
    key = _version_key(version)
    for rng in affected.get("ranges") or []:
        if rng.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue
        inside, fixed = False, None
        for event in rng.get("events") or []:
            if "introduced" in event:
                intro = str(event["introduced"])
                inside = intro == "0" or key >= _version_key(intro)
            elif "fixed" in event and inside:
                fixed = str(event["fixed"])
                inside = key < _version_key(fixed)
            elif "last_affected" in event and inside:
                inside = key <= _version_key(str(event["last_affected"]))
        if inside:
            return True, fixed
    return False, None


def _package_matches(component: Component, package: Mapping[str, Any]) -> bool:
    purl = package.get("purl")
    if isinstance(purl, str):
        return _purl_base(purl)[0] == component.purl
    ecosystem, name = str(package.get("ecosystem") or "").lower(), str(package.get("name") or "").lower()
    kind = {
        "pypi": "pkg:pypi/",
        "npm": "pkg:npm/",
        "go": "pkg:golang/",
        "maven": "pkg:maven/",
        "crates.io": "pkg:cargo/",
    }.get(ecosystem)
    return kind is not None and component.purl == f"{kind}{name}"


def match(components_: Iterable[Component], advisories: Iterable[Mapping[str, Any]]) -> list[Match]:
    entries = list(advisories)
    found: list[Match] = []
    for component in components_:
        for entry in entries:
            for affected in entry.get("affected") or []:
                if not _package_matches(component, affected.get("package") or {}):
                    continue
                hit, fixed = _affected(component.version, affected)
                if hit:
                    found.append(
                        Match(
                            component, str(entry["id"]), severity(entry), str(entry.get("summary") or "")[:300], fixed
                        )
                    )
                    break
    return sorted(found, key=lambda m: (m.component.purl, m.advisory))

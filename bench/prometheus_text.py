"""Reading Prometheus exposition text (the operator's /metrics, the API server's) with prometheus-client's own
parser: labels in any order, escaped values and exponents are its business, not a regular expression's."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families


def totals(text: str, sample: str, by: str | None = None, where: Mapping[str, str] | None = None) -> dict[str, float]:
    """The values of every sample named `sample` (e.g. `x_sum`, `x_count`, `x_total`) whose labels include
    `where`, added up per value of label `by` (under "" without `by`)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name != sample or any(s.labels.get(k) != v for k, v in (where or {}).items()):
                continue
            if by is not None and by not in s.labels:
                continue
            key = s.labels[by] if by is not None else ""
            found[key] = found.get(key, 0.0) + s.value
    return found


def histograms(text: str, name: str, by: str | None = None) -> dict[str, tuple[float, float]]:
    """(sum, count) of histogram `name` per value of label `by` (all series added up under "" without `by`)."""
    sums, counts = totals(text, f"{name}_sum", by), totals(text, f"{name}_count", by)
    return {key: (sums.get(key, 0.0), counts.get(key, 0.0)) for key in {*sums, *counts}}

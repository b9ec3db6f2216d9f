"""Rates with 95% intervals and latency percentiles, as the benchmark reports give them."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(hits: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``hits`` out of ``total`` (95% by default); (0, 0) when total is 0."""
    if total <= 0:
        return 0.0, 0.0
    p = hits / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if hits <= 0 else low), (1.0 if hits >= total else high)


def rate(hits: int, total: int) -> dict:
    """``{"rate", "low", "high", "hits", "total"}``: a rate with its 95% Wilson interval (rounded)."""
    low, high = wilson(hits, total)
    return {"rate": round(hits / total, 4) if total else 0.0, "low": round(low, 4), "high": round(high, 4),
            "hits": hits, "total": total}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latency(values_ms: list[float]) -> dict:
    return {"p50_ms": round(percentile(values_ms, 0.5), 3), "p95_ms": round(percentile(values_ms, 0.95), 3)}


def shown_rate(r: dict) -> str:
    """A rate for a table: ``12.5% [8.1–18.7] (25/200)``; ``–`` when nothing was counted."""
    if not r["total"]:
        return "–"
    return f"{r['rate']:.1%} [{r['low']:.1%}–{r['high']:.1%}] ({r['hits']}/{r['total']})"

"""`ppcockpit check` output: a table with status glyphs, or the documented JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ppcockpit.model import Reading, Verdict

Redact = Callable[[Any], Any]  # structured data in, the same with every secret replaced


def as_json(environment: str, verdict: Verdict, readings: list[Reading],
            checked_at: datetime | None = None, redact: Redact = lambda data: data) -> str:
    """The documented JSON object. Secrets are replaced in the data before it is
    serialised: JSON escaping would hide a secret holding a `"` from a text search."""
    checked = (checked_at or datetime.now(UTC)).isoformat(timespec="seconds")
    document: dict[str, Any] = {
        "environment": environment,
        "verdict": "go" if verdict.go else "no-go",
        "checked_at": checked,
        "probes": [_probe_json(r) for r in readings],
    }
    return json.dumps(redact(document), indent=2, default=str)


def _probe_json(reading: Reading) -> dict[str, Any]:
    details = dict(reading.details)
    if reading.request_id and "request_id" not in details:
        details["request_id"] = reading.request_id
    return {
        "name": reading.probe,
        "status": reading.status.value,
        "label": reading.label,  # what is wrong in a few words ("memory ≥ 90%"), as on screen
        "summary": reading.summary,
        "latency_ms": None if reading.latency_ms is None else round(reading.latency_ms, 1),
        "metrics": reading.metrics,
        "details": details,
        "error": reading.error,
    }


def as_table(environment: str, verdict: Verdict, readings: list[Reading],
             width: int | None = None) -> str:
    """The table `check` prints. Summaries use the width there is; with `width` None (not
    a terminal: a CI log, a pipe) they are never cut."""
    name_width = max([len(r.probe) for r in readings] + [5])
    lines = [f"ppcockpit check · {environment}", ""]
    for reading in readings:
        latency = "" if reading.latency_ms is None else f"{reading.latency_ms:>7.0f}ms"
        head = f"{reading.status.glyph} {reading.probe:<{name_width}}  {reading.status.label:<14}"
        summary = reading.summary
        if width is not None:
            room = max(20, width - len(head) - 11)
            summary = summary if len(summary) <= room else summary[: room - 1] + "…"
        lines.append(f"{head}{latency:>9}  {summary}")
        if reading.request_id and reading.failure.value != "none":
            lines.append(f"  {'':<{name_width}}  request id {reading.request_id}")
    lines.append("")
    if verdict.go:
        warned = len(verdict.warnings)
        lines.append("GO: nothing unavailable, no threshold breached"
                     + (f", {warned} warning{'s' if warned > 1 else ''}:" if warned else ""))
        lines.extend(f"  ▲ {warning}" for warning in verdict.warnings)
    else:
        lines.append("NO-GO:")
        lines.extend(f"  ✖ {reason}" for reason in verdict.reasons)
    if verdict.not_configured:
        count = len(verdict.not_configured)
        lines.append(f"{count} of {len(readings)} probe{'s' if count > 1 else ''} not "
                     f"configured (not checked): {', '.join(verdict.not_configured)}")
    if width is not None:
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    return "\n".join(lines)

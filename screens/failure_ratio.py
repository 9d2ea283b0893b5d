"""The failure-ratio panel: PostHog's per-minute failure ratio against the team's threshold.

Draws only from the `posthog` Reading (and its freshness) it is given: the ratio and its
verdict, "recovering" with its wait, before/after the deploy, how old the data is, and the
chart (screens/failure_chart.py) with the deploy's minute marked `▼ deploy`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from ppcockpit.durations import format_duration
from ppcockpit.model import Reading, Snapshot, Status
from ppcockpit.units import threshold_percent
from screens.failure_chart import (
    MAX_CHART_ROWS,
    NATURAL_CHART_ROWS,
    Chart,
    Series,
    minute_of,
    number,
    pct,
    series_of,
)
from screens.format import STATUS_COMPONENT_CLASSES, status_styles, status_text

SEPARATOR = " · "


class FailureRatioPanel(Widget, can_focus=True):
    """Current ratio, counts, before/after the deploy and a per-minute ratio chart."""

    COMPONENT_CLASSES = STATUS_COMPONENT_CLASSES | {
        "failure-ratio--ok", "failure-ratio--warn", "failure-ratio--crit",
        "failure-ratio--nodata", "failure-ratio--threshold", "failure-ratio--deploy",
        "failure-ratio--muted", "failure-ratio--value", "failure-ratio--filling",
    }
    DEFAULT_CSS = """
    FailureRatioPanel {
        height: auto;
        border: round $secondary 50%;
        padding: 0 1;
    }
    FailureRatioPanel > .status--healthy { color: $success; }
    FailureRatioPanel > .status--degraded { color: $warning; }
    FailureRatioPanel > .status--unavailable { color: $error; text-style: bold; }
    FailureRatioPanel > .status--unknown { color: $quiet; text-style: italic; }
    FailureRatioPanel > .status--skipped { color: $quiet; }
    FailureRatioPanel > .failure-ratio--ok { color: $success; }
    FailureRatioPanel > .failure-ratio--warn { color: $warning; }
    FailureRatioPanel > .failure-ratio--crit { color: $error; text-style: bold; }
    FailureRatioPanel > .failure-ratio--nodata { color: $quiet; }
    FailureRatioPanel > .failure-ratio--threshold { color: $error 70%; }
    FailureRatioPanel > .failure-ratio--deploy { color: $accent; text-style: bold; }
    FailureRatioPanel > .failure-ratio--muted { color: $quiet; }
    FailureRatioPanel > .failure-ratio--value { text-style: bold; }
    FailureRatioPanel > .failure-ratio--filling { color: $quiet; }
    """

    reading: reactive[Reading | None] = reactive(None, layout=True)
    # "live" or "stale 1m", as the Probes table says it (Reading.freshness); None: judged
    # from the reading alone (a cached answer is stale).
    freshness_words: reactive[str | None] = reactive(None, layout=True)

    def on_mount(self) -> None:
        self.border_title = "Failure ratio (PostHog)"

    def show(self, snapshot: Snapshot) -> None:
        """Draw the `posthog` reading of `snapshot`, its age judged as everywhere else."""
        freshness = snapshot.freshness_of("posthog")
        self.reading = snapshot.readings.get("posthog")
        self.freshness_words = freshness.words if freshness is not None else None

    def _stale_words(self, reading: Reading) -> str | None:
        """"stale 1m" when the data shown is stale, else None."""
        words = self.freshness_words
        if words is None:
            judged = reading.freshness(None, reading.finished_at or None)
            words = judged.words if judged is not None else None
        return words if words is not None and words != "live" else None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines(width, None)))

    def render(self) -> Text:
        size = self.content_size
        return Text("\n").join(self._lines(size.width, size.height))

    # -- layout -------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"failure-ratio--{name}", partial=True)

    def _lines(self, width: int, height: int | None) -> list[Text]:
        """The panel's lines for `width` columns; `height` None means "as tall as it likes"."""
        width = max(10, width)
        reading = self.reading
        if reading is None:
            return [Text("… waiting for first reading", style=self._style("muted"))]
        if reading.status is Status.SKIPPED:
            why = Text(reading.summary, style=self._style("muted"))
            return _pack([status_text(Status.SKIPPED, status_styles(self)), why], width)
        details = reading.details
        series = series_of(details)
        info = _pack(self._info_parts(reading, details, series), width)
        if not series.minutes:
            return info[:height] if height else info
        if height and len(info) >= height:  # keep one row for the bars
            info = info[:max(1, height - 1)]
        chart = Chart(self._style, series, details, width)
        marker = chart.deploy_row()
        room = (height or len(info) + NATURAL_CHART_ROWS + 2) - len(info)
        # Too short for everything: the axis goes first, then the deploy marker.
        with_axis = room - (marker is not None) >= 2
        if not with_axis and room < 2:
            marker = None
        bar_rows = max(1, room - (marker is not None) - with_axis)
        lines = info + ([marker] if marker is not None else [])
        lines += chart.bars(min(bar_rows, MAX_CHART_ROWS))
        if with_axis:
            lines.append(chart.axis_row())
        spare = bar_rows - MAX_CHART_ROWS - 1  # a tall panel: the facts behind the numbers
        if spare > 0:
            lines += [Text(""), *self._facts(reading, details, series, width)[:spare]]
        return lines[:height] if height else lines

    def _facts(self, reading: Reading, details: dict[str, Any], series: Series,
               width: int) -> list[Text]:
        metrics, muted = reading.metrics, self._style("muted")
        warn, crit = number(details.get("ratio_warn")), number(details.get("ratio_crit"))
        least = number(details.get("min_requests"))
        limits = [f"warn {threshold_percent(warn)}" if warn is not None else "",
                  f"crit {threshold_percent(crit)}" if crit is not None else "",
                  f"at least {least:.0f} requests" if least is not None else ""]
        facts = ["thresholds: " + " · ".join(limit for limit in limits if limit)]
        completed, failed = number(metrics.get("completed")), number(metrics.get("failed"))
        if completed is not None and failed is not None:
            facts.append(f"window: {completed:.0f} completed, {failed:.0f} failed")
        compared = number(details.get("compare_minutes"))
        if compared:
            facts.append(f"before/after: {compared:.0f}m since the deploy against the "
                         f"{compared:.0f}m before it")
        deploy = minute_of(details.get("deploy_at"))
        if deploy is not None:
            facts.append(f"deploy at {deploy.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        newest = series.minutes[-1]
        if newest.filling:
            facts.append(f"this minute so far: {newest.failed}/{newest.requests} failed "
                         "(filling: not counted yet)")
        stale = self._stale_words(reading)
        facts.append("data: " + (stale or "live") + (", from the cache" if reading.cached
                                                     else ""))
        facts.append(f"source: {reading.target}")
        return [_pack([Text(fact, style=muted)], width)[0] for fact in facts]

    def _info_parts(self, reading: Reading, details: dict[str, Any],
                    series: Series) -> list[Text]:
        metrics = reading.metrics
        has_series = bool(series.minutes)
        head = status_text(reading.status, status_styles(self))
        ratio = number(metrics.get("ratio"))
        requests = number(metrics.get("requests"))
        failed = number(metrics.get("failed"))
        window = number(details.get("window_s"))
        span = f" ({format_duration(window)})" if window else ""
        parts: list[Text] = []
        if ratio is not None:
            head.append("  ")
            head.append(pct(ratio), style=self._style("value"))
            parts.append(head)
            if requests is not None and failed is not None:
                parts.append(Text(f"{failed:.0f}/{requests:.0f} failed{span}"))
        elif has_series and requests is not None:
            parts.append(status_text(reading.status, status_styles(self),
                                      label=f"inconclusive: {requests:.0f} requests"))
            need = number(details.get("min_requests"))
            if need:
                parts.append(Text(f"need {need:.0f}{span}", style=self._style("muted")))
        else:
            parts.append(head)
        parts.extend(self._recovery_parts(details))
        parts.extend(self._compare_parts(metrics))
        stale = self._stale_words(reading)
        if stale:
            parts.append(Text(stale, style=self._style("warn")))
            retry = number(details.get("retry_after_s"))
            if retry is not None:
                parts.append(Text(f"rate limited, retry in {format_duration(retry)}",
                                  style=self._style("muted")))
        if reading.error or (not has_series and ratio is None):
            parts.append(Text(reading.error or reading.summary, style=self._style("muted")))
        if has_series and details.get("deploy_at") and series.deploy is None:
            parts.append(Text(_deploy_time(details.get("deploy_at")), style=self._style("deploy")))
        return parts

    def _recovery_parts(self, details: dict[str, Any]) -> list[Text]:
        """Over a threshold, but the newest minutes are back under the warn line: say so,
        and how long the window takes to follow them (the verdict stays as it is)."""
        recovering = details.get("recovering")
        if not isinstance(recovering, dict):
            return []
        minutes, ratio = number(recovering.get("minutes")), number(recovering.get("ratio"))
        line = number(recovering.get("threshold"))
        wait = number(recovering.get("clears_in_m"))
        if minutes is None or ratio is None or line is None or wait is None:
            return []
        window = number(details.get("window_s"))
        span = f"{format_duration(window)} " if window else ""
        return [Text(f"recovering: last {minutes:.0f}m at {pct(ratio)}",
                     style=self._style("ok")),
                Text(f"{span}window ≤ {threshold_percent(line)} in ~{wait:.0f}m",
                     style=self._style("muted"))]

    def _compare_parts(self, metrics: dict[str, Any]) -> list[Text]:
        before = number(metrics.get("ratio_before"))
        after = number(metrics.get("ratio_after"))
        if before is None or after is None:
            return []
        delta = after - before
        style = self._style("crit" if delta > 0.005 else "muted")
        return [Text(f"after deploy {pct(after)} vs {pct(before)} before"),
                Text(f"Δ {delta * 100:+.1f} pts", style=style)]


def _deploy_time(value: object) -> str:
    at = minute_of(value)
    if at is None:
        return "deploy marked (off the chart)"
    return f"deploy {at.astimezone(UTC):%H:%M} UTC (off the chart)"


def _pack(parts: list[Text], width: int) -> list[Text]:
    """Parts joined by " · " on as few lines as fit; an overlong part is cut with an ellipsis."""
    lines: list[Text] = []
    current: Text | None = None
    for part in parts:
        if current is not None and current.cell_len + len(SEPARATOR) + part.cell_len <= width:
            current.append(SEPARATOR)
            current.append_text(part)
            continue
        if current is not None:
            lines.append(current)
        current = part.copy()
        current.truncate(width, overflow="ellipsis")
    if current is not None:
        lines.append(current)
    return lines


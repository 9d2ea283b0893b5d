"""A small App hosting the log tail panel, with fixed lines and a fixed clock, for the pilot
tests and the snapshots (the cockpit's own stylesheet and themes, no probes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, ComposeResult

from ppcockpit.log_save import save_log_lines
from ppcockpit.logs import LogBuffer, SourceState
from ppcockpit.secrets import Redactor
from probes.log_parse import LineParser
from screens.log_lines import LogLinesView
from screens.log_tail import LogTailPanel
from themes import STYLESHEET, THEMES, VARIABLE_DEFAULTS

AT = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
SECRET = "sk-live-planted-secret-000111"
PARSER = LineParser(redact=Redactor([SECRET]))


def app_line(n: int, level: str = "info", provider: str = "anthropic", rid: str | None = None,
             message: str | None = None) -> bytes:
    """A line in the app's format, numbered `n` (its time, request id and latency follow)."""
    record = {"level": level, "message": message or f"Coach reply {n}",
              "timestamp": f"2027-01-15T08:00:{n % 60:02d}.{n % 1000:03d}Z",
              "requestId": rid or f"req-{n:04d}", "route": "/api/chat", "method": "POST",
              "metadata": {"providerId": provider, "latencyMs": 100 + n}}
    if level == "error":
        record["error"] = {"name": "ProviderError", "message": "rate limited"}
    return json.dumps(record).encode()


def mixed(count: int) -> list[bytes]:
    levels = ("info", "warn", "error", "debug")
    providers = ("anthropic", "openai")
    return [app_line(n, levels[n % 4], providers[n % 2]) for n in range(count)]


def make_buffer(max_lines: int = 10_000) -> LogBuffer:
    buffer = LogBuffer(max_lines, clock=lambda: AT)
    buffer.set_state(SourceState("streaming", "command: kubectl logs -f deploy/web", since=AT))
    return buffer


def feed(buffer: LogBuffer, lines: list[bytes]) -> None:
    PARSER.parse_into(lines, buffer)


class LogHost(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return VARIABLE_DEFAULTS

    CSS_PATH = STYLESHEET

    def __init__(self, buffer: LogBuffer, saves: Path | None = None) -> None:
        super().__init__()
        self.buffer = buffer
        self.saves = saves
        self.saved: list[Path] = []

    def compose(self) -> ComposeResult:
        yield LogTailPanel(self.buffer, batch_seconds=0, clock=lambda: AT, classes="panel",
                           id="logs")

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.query_one(LogLinesView).focus()

    def on_log_tail_panel_save_requested(self, message: LogTailPanel.SaveRequested) -> None:
        assert self.saves is not None
        self.saved.append(save_log_lines(self.saves, message.lines, environment="production",
                                         at=datetime.fromtimestamp(AT, UTC)))

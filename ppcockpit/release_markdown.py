"""The release log entry as the Markdown table the team pastes into its channel: every cell
one line, redacted, every Markdown character escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ppcockpit.release_entry import Redact, ReleaseEntry, clean_text, clean_url

CELL_LIMIT = 300
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&@])")
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#@!$&'+,;=%]")


COLUMNS = ("Date/time (UTC)", "Environment", "SHA", "Tag", "Deployment", "Operators",
           "Migrations", "Reviewed", "Manual checks", "Overrides", "Rollback", "Verdict",
           "Session")


def markdown(entry: ReleaseEntry, redact: Redact) -> str:
    """The entry as a Markdown table (header and one row) to paste into the channel."""
    return markdown_table([entry], redact)


def markdown_table(entries: Iterable[ReleaseEntry], redact: Redact) -> str:
    rows = [COLUMNS, tuple("---" for _ in COLUMNS)]
    rows += [_row(entry, redact) for entry in entries]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"


def _row(entry: ReleaseEntry, redact: Redact) -> tuple[str, ...]:
    def cell(value: str | None) -> str:
        return _cell(value, redact)

    def joined(values: Iterable[str], separator: str = ", ") -> str:
        parts = [part for part in values if part]
        return separator.join(parts) if parts else "—"

    rollback = "—"
    if entry.rollback is not None:
        done = "; ".join(f"{cell(a.action)} → {cell(a.result)}" for a in entry.rollback.actions)
        rollback = f"{cell(entry.rollback.trigger)} (by {cell(entry.rollback.operator)})" + \
            (f": {done}" if done else "")
    return (
        cell(entry.when), cell(entry.environment), cell(entry.sha), cell(entry.tag),
        _link(None, entry.deployment_url, redact) if entry.deployment_url else "—",
        joined(cell(o) for o in entry.operators),
        joined(cell(m) for m in entry.migrations_applied),
        joined((_link(t, u, redact) for t, u in entry.links_reviewed), "; "),
        joined((f"{cell(c.title)} ({cell(c.by)})" for c in entry.manual_checks), "; "),
        joined((f"{cell(o.step)}: {cell(o.reason)} ({cell(o.by)})" for o in entry.overrides),
               "; "),
        rollback, cell(entry.verdict), cell(entry.session),
    )


def _cell(value: str | None, redact: Redact) -> str:
    """Outside text as table-cell text: one line, redacted, every Markdown character
    escaped (a `|` cannot end the cell, `<b>` or `[x](y)` or `@team` mean nothing)."""
    if value is None:
        return "—"
    text = " ".join(clean_text(value, redact).split())
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text) if text else "—"


def _link(title: str | None, url: str, redact: Redact) -> str:
    """`[title](url)` for an http(s) URL (its unsafe characters percent-encoded); any
    other address is shown as text, never as a link."""
    shown = clean_url(url, redact)
    if not re.match(r"https?://[^\s]+$", shown) or len(shown) > CELL_LIMIT:
        return f"{_cell(title, redact)}: {_cell(shown, redact)}" if title else \
            _cell(shown, redact)
    target = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()),
                             shown)
    return f"[{_cell(title or shown, redact)}]({target})"


__all__ = ["CELL_LIMIT", "COLUMNS", "markdown", "markdown_table"]

"""The text a person sees on screen, line by line, from Textual's SVG screenshot."""

from __future__ import annotations

import html
import re

from textual.app import App

_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def screen_text(app: App) -> str:
    """Every line of the current screen as plain text (styles dropped, spans joined)."""
    lines: dict[float, list[tuple[float, str]]] = {}
    for match in _TEXT.finditer(app.export_screenshot()):
        x, y, text = float(match.group(1)), float(match.group(2)), match.group(3)
        lines.setdefault(y, []).append((x, html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(text for _, text in sorted(lines[y])) for y in sorted(lines))

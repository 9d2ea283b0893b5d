"""Every status word is readable in every theme: WCAG AA (4.5:1) against the backgrounds it
is drawn on, and the stylesheets colour status only through the theme's variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.color import Color

from themes import STYLESHEET, THEMES

ROOT = Path(__file__).resolve().parent.parent
# What words are written in (statuses, states, levels, muted notes), and on what.
FOREGROUNDS = ("success", "warning", "error", "quiet", "foreground", "accent", "primary")
BACKGROUNDS = ("background", "surface", "panel")
AA = 4.5


def luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)


def contrast(a: Color, b: Color) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("theme", THEMES, ids=lambda t: t.name)
def test_every_status_colour_reads_at_aa_on_every_background(theme) -> None:
    variables = {**theme.to_color_system().generate(), **theme.variables}
    failures = []
    for fg in FOREGROUNDS:
        for bg in BACKGROUNDS:
            front = Color.parse(variables[fg])
            back = Color.parse(variables[bg])
            ratio = contrast(front.blend(back, 1 - front.a) if front.a < 1 else front, back)
            if ratio < AA:
                failures.append(f"{fg} on {bg}: {ratio:.2f}:1")
    assert not failures, f"{theme.name}: {failures}"


def test_status_colours_come_from_theme_variables_only() -> None:
    sources = [STYLESHEET, *(ROOT / "screens").glob("*.py")]
    for path in sources:
        text = path.read_text()
        styled = [line for line in text.splitlines()
                  if re.search(r"\b(color|background)\s*:", line)]
        assert not [line for line in styled if re.search(r"#[0-9a-fA-F]{3,8}\b", line)], path
        # $text-muted is a translucent foreground: under 4.5:1 on light backgrounds.
        assert "$text-muted" not in text, f"{path}: use $quiet"

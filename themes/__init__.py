"""The cockpit's themes and its stylesheet. Status is never conveyed by colour alone: every
status also has a glyph (ppcockpit.model.STATUS_GLYPHS), so each theme only tunes contrast."""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("cockpit.tcss")

DARK = Theme(
    name="dark",
    primary="#5fafff",
    secondary="#87afd7",
    accent="#ffaf5f",
    foreground="#e4e4e4",
    background="#121212",
    surface="#1c1c1c",
    panel="#262626",
    success="#5fd75f",
    warning="#ffd75f",
    error="#ff5f5f",
    dark=True,
    variables={"quiet": "#a8a8a8"},  # secondary text: legible, unlike $quiet's 60%
)

LIGHT = Theme(
    name="light",
    primary="#004f93",
    secondary="#5f5f87",
    accent="#8a4a00",
    foreground="#1c1c1c",
    background="#fafafa",
    surface="#eeeeee",
    panel="#e4e4e4",
    success="#005f00",
    warning="#6b5200",
    error="#a80000",
    dark=False,
    variables={"quiet": "#4e4e4e"},
)

HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#00ffff",
    secondary="#ffffff",
    accent="#ffff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#000000",
    success="#00ff00",
    warning="#ffff00",
    error="#ff3030",
    dark=True,
    luminosity_spread=0.0,
    text_alpha=1.0,
    variables={"quiet": "#d0d0d0"},
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, HIGH_CONTRAST)
# The cockpit's own variables, for the moment before one of its themes is active (an App
# returns them from get_theme_variable_defaults()).
VARIABLE_DEFAULTS: dict[str, str] = dict(DARK.variables)
THEME_NAMES: tuple[str, ...] = tuple(theme.name for theme in THEMES)


def next_theme(current: str) -> str:
    """The theme after `current` in the cycle (the first one if `current` is not ours)."""
    if current not in THEME_NAMES:
        return THEME_NAMES[0]
    return THEME_NAMES[(THEME_NAMES.index(current) + 1) % len(THEME_NAMES)]

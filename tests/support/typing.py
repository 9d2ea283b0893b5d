"""Typing into the focused input in a pilot test.

`pilot.press` waits for the app to go idle after every key (textual's wait_for_idle): fine
for a few keys, seconds for a sentence. A reason or a URL is put into the focused Input in
one step (as a paste would), then submitted with a real Enter key."""

from __future__ import annotations

from textual.widgets import Input


async def type_and_submit(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    focused = pilot.app.focused
    assert isinstance(focused, Input), f"no input has the focus ({focused!r})"
    focused.value = text
    focused.cursor_position = len(text)
    await pilot.press("enter")

"""The checklist: the runbook's phases and steps, each with its state as a glyph and a word,
and the selected step's detail (its evidence, its command's output). Keys post messages;
the App turns them into session commands."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from ppcockpit.runbook_engine import PhaseState, PhaseView, RunbookView, StepState, StepView
from screens.fast_table import FastTable
from screens.format import retitle
from screens.text_block import TextBlock

COLUMNS = (("state", 14), ("step", None))
STATE_CLASSES = {f"step--{state.value}" for state in StepState} | {
    "phase--done", "phase--open", "phase--locked", "checklist--muted"}
OUTPUT_LINES = 8  # of a command's output in the detail pane


class ChecklistContent(msgspec.Struct, frozen=True):
    """What the panel draws: the checklist, and the output of command steps (tails)."""

    view: RunbookView | None
    outputs: dict[str, tuple[str, ...]]
    note: str = ""  # why there is no checklist, or a problem with the journal


class StepRequest(Message):
    """The operator asked for something on the step (or phase) with this key."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


class ChecklistPanel(Vertical):
    """Phases (with progress) and their steps; Space, Enter and `o` act on the selection."""

    COMPONENT_CLASSES = STATE_CLASSES
    BINDINGS = [
        Binding("space", "confirm", "Confirm step"),
        Binding("enter", "open", "Run / record"),
        Binding("o", "override", "Override"),
        Binding("ctrl+c", "cancel", "Cancel command", show=False),
    ]

    class ConfirmRequested(StepRequest):
        """Space: confirm the step."""

    class OpenRequested(StepRequest):
        """Enter: run, record or tag the step."""

    class OverrideRequested(StepRequest):
        """`o`: pass over a step ("phase/step") or a phase's gate ("phase")."""

    class CancelRequested(StepRequest):
        """Ctrl+C: stop the step's running command."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._content: ChecklistContent | None = None
        self._placed = False  # the cursor went to the first open step once

    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS, id="checklist-table")
        yield TextBlock(id="checklist-detail")

    def on_mount(self) -> None:
        self.border_title = "Checklist"

    @property
    def table(self) -> FastTable:
        return self.query_one(FastTable)

    def show(self, content: ChecklistContent) -> None:
        if content == self._content:
            return
        self._content = content
        view = content.view
        if view is None:
            self.table.show_rows([("none", (Text("-"), Text(content.note or "no runbook")))])
            self._show_detail()
            return
        done = sum(phase.done for phase in view.phases)
        total = sum(len(phase.steps) for phase in view.phases)
        session = (" · closed" if view.closed else "") if view.session else " · no session"
        retitle(self, f"Checklist · {done}/{total} done{session} · {view.title}")
        rows: list[tuple[str, Sequence[str | Text]]] = []
        for number, phase in enumerate(view.phases, start=1):
            rows.append((phase.id, self._phase_cells(number, phase)))
            rows.extend((step.key, self._step_cells(step)) for step in phase.steps)
        self.table.show_rows(rows)
        if not self._placed:  # at start: the first step that is not done
            self._placed = True
            self.select(view.first_open_key())
        self._show_detail()

    def select(self, key: str | None) -> None:
        if key is None:
            return
        keys = self.table.keys
        if key in keys:
            self.table.move_cursor(row=keys.index(key))

    def selected_key(self) -> str | None:
        key = self.table.cursor_key
        return None if key == "none" else key

    def _style(self, name: str) -> str | object:
        return self.get_component_rich_style(name, partial=True)

    def _phase_cells(self, number: int, phase: PhaseView) -> tuple[Text, Text]:
        word = {PhaseState.DONE: "✔ done", PhaseState.OPEN: "▸ open",
                PhaseState.LOCKED: "⊘ locked"}[phase.state]
        state = Text(word, style=self._style(f"phase--{phase.state.value}"))
        title = Text(f"{number}. {phase.title}  {phase.done}/{len(phase.steps)}",
                     style="bold")
        if phase.gate_reason:
            title.append(f"  gate overridden: {phase.gate_reason}",
                         style=self._style("step--overridden"))
        return state, title

    def _step_cells(self, step: StepView) -> tuple[Text, Text]:
        style = self._style(f"step--{step.state.value}")
        state = Text(f" {step.state.glyph} {step.state.value}", style=style)
        title = Text(f"  {step.title}")
        if step.state is StepState.OVERRIDDEN and step.reason:
            title.append(f" · {step.reason}", style=style)
        return state, title

    def on_fast_table_row_highlighted(self, event: FastTable.RowHighlighted) -> None:
        self._show_detail()

    def on_fast_table_row_selected(self, event: FastTable.RowSelected) -> None:
        event.stop()
        self.action_open()  # the table takes Enter itself: selecting a row opens its step

    def _show_detail(self) -> None:
        detail = self.query_one("#checklist-detail", TextBlock)
        content = self._content
        key = self.selected_key()
        if content is None or content.view is None or key is None:
            detail.show(Text(content.note if content else "", style=self._style(
                "checklist--muted")))
            return
        step = content.view.step(key)
        if step is None:  # a phase row
            phase = next((p for p in content.view.phases if p.id == key), None)
            if phase is None:
                detail.show("")
                return
            text = Text(f"{phase.title}: {phase.done} of {len(phase.steps)} steps complete")
            if content.view.session:
                text.append(f"\nsession {content.view.session}",
                            style=self._style("checklist--muted"))
            if phase.state is PhaseState.LOCKED:
                text.append("\nLocked until the phase before is complete; `o` overrides the "
                            "gate with a reason.", style=self._style("checklist--muted"))
            detail.show(text)
            return
        detail.show(self._step_detail(step, content.outputs.get(key, ())))

    def _step_detail(self, step: StepView, output: tuple[str, ...]) -> Text:
        style = self._style(f"step--{step.state.value}")
        text = Text()
        text.append(step.title, style="bold")
        text.append("\n")
        text.append(f"{step.state.glyph} {step.state.value}", style=style)
        text.append(f" · {step.kind.value} · {step.detail}")
        if step.by or step.at:
            who = f"by {step.by}" if step.by else ""
            when = f" at {step.at}" if step.at else ""
            text.append(f"\n{who}{when}".rstrip(), style=self._style("checklist--muted"))
        if step.help:
            text.append(f"\n{step.help}", style=self._style("checklist--muted"))
        if output:
            text.append(f"\n── output (last {min(len(output), OUTPUT_LINES)} lines) ──",
                        style=self._style("checklist--muted"))
            for line in output[-OUTPUT_LINES:]:
                text.append("\n" + line)
        return text

    # --- keys ---------------------------------------------------------------------------

    def action_confirm(self) -> None:
        key = self.selected_key()
        if key is not None and "/" in key:
            self.post_message(self.ConfirmRequested(key))

    def action_open(self) -> None:
        key = self.selected_key()
        if key is not None and "/" in key:
            self.post_message(self.OpenRequested(key))

    def action_override(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.OverrideRequested(key))

    def action_cancel(self) -> None:
        key = self.selected_key()
        if key is not None and "/" in key:
            self.post_message(self.CancelRequested(key))

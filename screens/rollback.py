"""`R`: the guarded rollback. Why (the evidence, live), what will happen (the plan and the
deployment it returns to), and arming as GitHub arms a repository deletion: the field has
the focus, Enter does nothing until it holds the environment's name exactly, Esc cancels.
A dry-run switch (Tab, Space) shows each request and command without doing it.

Once armed the screen shows the run step by step; a failed action waits for `r` retry,
`s` skip (with a typed reason unless optional) or `a` abort. Esc then only closes the view:
the rollback goes on, and `R` shows it again. The screen does no I/O: it posts messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, Switch

if TYPE_CHECKING:  # plain data the App builds; not imported before the first frame
    from ppcockpit.rollback_evidence import Evidence
    from ppcockpit.rollback_view import ActionView, PlanView

OUTPUT_LINES = 6
STATE_STYLES = {"ok": "rollback--ok", "failed": "rollback--failed",
                "interrupted": "rollback--failed", "running": "rollback--running",
                "skipped": "rollback--muted", "pending": "rollback--muted"}


@dataclass(frozen=True, slots=True)
class RollbackContent:
    plan: PlanView
    evidence: Evidence
    resolving: bool = False


class RollbackScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("r", "decide('retry')", "Retry", show=False),
        Binding("s", "decide('skip')", "Skip", show=False),
        Binding("a", "decide('abort')", "Abort", show=False),
        Binding("ctrl+c", "cancel_action", "Stop action", show=False),
    ]
    DEFAULT_CSS = """
    RollbackScreen { align: center middle; }
    RollbackScreen > Vertical {
        width: 120; max-width: 98%; height: auto; max-height: 96%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    RollbackScreen #rollback-title { color: $error; text-style: bold; }
    RollbackScreen VerticalScroll { height: auto; max-height: 28; }
    RollbackScreen #rollback-arm { height: auto; }
    RollbackScreen #rollback-arm Input { width: 1fr; }
    RollbackScreen #rollback-arm Switch { width: auto; }
    RollbackScreen #rollback-arm Label { padding: 1 1 0 1; }
    RollbackScreen #rollback-why { color: $error; height: auto; }
    RollbackScreen #rollback-keys { color: $quiet; }
    RollbackScreen > .rollback--ok { color: $success; }
    RollbackScreen > .rollback--failed { color: $error; text-style: bold; }
    RollbackScreen > .rollback--running { color: $accent; text-style: bold; }
    RollbackScreen > .rollback--muted { color: $quiet; }
    RollbackScreen > .rollback--heading { text-style: bold; }
    """
    COMPONENT_CLASSES = {"rollback--ok", "rollback--failed", "rollback--running",
                         "rollback--muted", "rollback--heading"}

    @dataclass
    class Armed(Message):
        dry_run: bool
        resume: bool
        target_uid: str | None

    @dataclass
    class Decided(Message):
        action: str
        decision: str
        reason: str

    @dataclass
    class Confirmed(Message):
        action: str
        typed: str

    class StopRequested(Message):
        pass

    content: var[RollbackContent | None] = var(None)

    def __init__(self, environment: str, content: RollbackContent) -> None:
        super().__init__()
        self.environment = environment
        self.set_reactive(RollbackScreen.content, content)
        self._asking: tuple[str, str] | None = None  # (action, "skip" | "confirm")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"⚠ ROLLBACK · {self.environment}"), id="rollback-title")
            with VerticalScroll():
                yield Static(id="rollback-body")
            with Horizontal(id="rollback-arm"):
                yield Input(placeholder=f"type {self.environment} to arm",
                            id="rollback-input")
                yield Label("dry run")
                yield Switch(value=False, id="rollback-dry-run")
            yield Static("", id="rollback-why")
            yield Static("", id="rollback-keys")

    def on_mount(self) -> None:
        self.query_one("#rollback-input", Input).focus()
        self._draw()

    def watch_content(self) -> None:
        if self.is_mounted:
            self._draw()

    # --- what it shows ---------------------------------------------------------------------

    @property
    def armed(self) -> bool:
        """A rollback of this plan is running or waiting: the view follows it."""
        rollback = self.content.plan.rollback if self.content else None
        return rollback is not None and rollback.state in ("running", "waiting")

    def _draw(self) -> None:
        content = self.content
        if content is None:
            return
        self.query_one("#rollback-body", Static).update(self._body(content))
        rollback = content.plan.rollback
        waiting = rollback.waiting if rollback else None
        arm = self.query_one("#rollback-arm")
        field = self.query_one("#rollback-input", Input)
        if self._asking is not None:
            arm.display = True
            self.query_one(Switch).display = False
            self.query_one(Label).display = False
        elif self.armed:
            arm.display = False
        else:
            arm.display = True
            self.query_one(Switch).display = True
            self.query_one(Label).display = True
            field.placeholder = f"type {self.environment} to " + (
                "resume" if self._half_done else "arm")
        self.query_one("#rollback-keys", Static).update(Text(self._keys(waiting)))

    @property
    def _half_done(self) -> bool:
        rollback = self.content.plan.rollback if self.content else None
        return rollback is not None and rollback.state == "half-done"

    def _keys(self, waiting: object) -> str:
        if self._asking is not None:
            action, what = self._asking
            return (f"Enter: skip “{action}” with this reason · Esc back" if what == "skip"
                    else f"Enter: confirm “{action}” · Esc back")
        if self.armed:
            if waiting is not None:
                return "r retry · s skip · a abort · Esc close the view (the rollback waits)"
            return "Ctrl+C stop the running action · Esc close the view (the rollback goes on)"
        verb = "resume" if self._half_done else "arm"
        extra = " · a abort it" if self._half_done else ""
        return (f"type {self.environment} and Enter to {verb} · Tab: dry run (Space) · "
                f"Esc cancel{extra}")

    def _body(self, content: RollbackContent) -> Text:
        plan, text = content.plan, Text()
        heading = self.get_component_rich_style("rollback--heading", partial=True)
        muted = self.get_component_rich_style("rollback--muted", partial=True)
        text.append("Why now", style=heading)
        text.append(f"\n{content.evidence.text() or 'no evidence yet'}\n")
        if plan.problem:
            text.append(f"\n{plan.problem}", style=self.get_component_rich_style(
                "rollback--failed", partial=True))
            return text
        rollback = plan.rollback
        if rollback is not None:
            kind = "Dry run" if rollback.dry_run else "Rollback"
            text.append(f"\n{kind} {rollback.id} · {rollback.state} · armed by "
                        f"{rollback.armed_by} at {rollback.armed_at}", style=heading)
            if rollback.outcome:
                text.append(f"\n{rollback.outcome}")
            if rollback.waiting is not None:
                text.append(f"\n⏸ {rollback.waiting.message}", style=self.
                            get_component_rich_style("rollback--failed", partial=True))
            text.append("\n")
        text.append("\nThe plan", style=heading)
        if content.resolving:
            text.append("  (asking the hosting API…)", style=muted)
        for number, action in enumerate(plan.actions, start=1):
            self._action(text, number, action)
        text.append("\n\nReturns to ", style=heading)
        if plan.target is not None:
            text.append(plan.target.text())
        else:
            text.append(plan.hosting_problem or "no previous deployment known", style=self.
                        get_component_rich_style("rollback--failed", partial=True))
        if plan.current is not None:
            text.append("\nLive now   ", style=heading)
            text.append(plan.current.text())
        return text

    def _action(self, text: Text, number: int, action: ActionView) -> None:
        style = self.get_component_rich_style(STATE_STYLES.get(action.state.value,
                                                               "rollback--muted"), partial=True)
        text.append(f"\n {number}. ")
        text.append(f"{action.state.glyph} {action.state.value:<11}", style=style)
        text.append(f" {action.title}")
        if action.optional:
            text.append(" (optional)")
        text.append(f"\n      {action.detail}")
        if action.blocked:
            text.append(f"\n      cannot run: {action.blocked}", style=self.
                        get_component_rich_style("rollback--failed", partial=True))
        if action.confirmation and not action.confirmed:
            text.append(f"\n      asks a second confirmation: type {action.confirmation}")
        if action.summary:
            text.append(f"\n      {action.summary}")
        if action.reason:
            text.append(f"\n      skipped: {action.reason}")
        for line in action.output[-OUTPUT_LINES:]:
            text.append(f"\n      │ {line}")

    # --- what it asks ----------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#rollback-why", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        why = self.query_one("#rollback-why", Static)
        if self._asking is not None:
            action, what = self._asking
            self._asking = None
            event.input.value = ""
            if what == "skip":
                self.post_message(self.Decided(action, "skip", typed))
            else:
                self.post_message(self.Confirmed(action, typed))
            self._draw()
            return
        if self.armed or self.content is None:
            return
        if typed != self.environment:
            said = ("that is only part of it" if typed and self.environment.startswith(typed)
                    else "that is not it")
            why.update(Text(f"Type the environment's name exactly, {self.environment}: "
                            f"{said}."))
            return
        event.input.value = ""
        target = self.content.plan.target
        self.post_message(self.Armed(self.query_one(Switch).value, self._half_done,
                                     target.uid if target else None))

    def action_decide(self, decision: str) -> None:
        """r / s / a while a rollback waits for a decision (a half-done one: `a` aborts)."""
        rollback = self.content.plan.rollback if self.content else None
        if rollback is None or rollback.waiting is None:
            return
        action = rollback.waiting.action
        if rollback.waiting.why == "confirm" and decision == "retry":
            self._ask(action, "confirm", f"type {rollback.waiting.word}")
        elif decision == "skip":
            self._ask(action, "skip", "why skip it? (a few words)")
        else:
            self.post_message(self.Decided(action, decision, ""))

    def _ask(self, action: str, what: str, placeholder: str) -> None:
        self._asking = (action, what)
        field = self.query_one("#rollback-input", Input)
        field.placeholder = placeholder
        self._draw()
        field.focus()

    def action_cancel_action(self) -> None:
        if self.armed:
            self.post_message(self.StopRequested())

    def action_close(self) -> None:
        if self._asking is not None:
            self._asking = None
            self._draw()
            return
        self.dismiss(None)

"""The runbook: phases of steps the operator walks, as written in runbook.toml.

Plain data and its loader (strict, every mistake named by file, line and key). The
engine that walks it (what is done, what the evidence says) is ppcockpit.runbook_engine.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from ppcockpit.config_types import Seconds, Strict, dec_hook
from ppcockpit.model import Status
from ppcockpit.rollback_plan import RollbackPlan
from ppcockpit.text import escape_controls
from ppcockpit.toml_document import ConfigError, Document, convert, dotted, read_toml

BUILT_IN = Path(__file__).with_name("default_runbook.toml")
SLUG = r"^[a-z0-9][a-z0-9-]{0,63}$"
Slug = Annotated[str, Meta(pattern=SLUG)]
# The probes a step can read (their `check --only` names): a typo would be a step that
# can never pass, so it is a mistake in the file.
PROBE_NAMES = ("deployments", "health", "posthog", "pwa", "redis", "secrets",
               "supabase_auth", "supabase_backups", "supabase_migrations")


class StepKind(StrEnum):
    MANUAL = "manual"  # the operator confirms
    PROBE = "probe"  # passes while a condition on a probe's latest reading holds
    COMMAND = "command"  # a configured command passes on exit 0
    RECORD = "record"  # the operator types a value (or confirms one from the deployments probe)
    TAG = "tag"  # a release tag is proposed, then created (and pushed)


class Step(Strict, kw_only=True):
    id: Slug
    """A stable slug, unique in its phase: the journal refers to steps by it."""
    title: str
    """What the operator sees in the checklist."""
    kind: StepKind
    """manual, probe, command, record or tag."""
    help: str = ""
    """What the operator should look at, or why the step exists."""
    # probe
    probe: str | None = None
    """(probe) The probe whose latest reading decides: health, redis, posthog, ..."""
    environment: str | None = None
    """(probe) Another environment's probe, e.g. "staging" (default: the watched one)."""
    status: list[Status] = []
    """(probe) Passes while the reading's status is one of these."""
    metric: str | None = None
    """(probe) Passes while this metric of the reading is below and/or above the bounds."""
    below: float | None = None
    above: float | None = None
    readings: Annotated[int, Meta(ge=1, le=100)] = msgspec.field(default=1, name="for")
    """(probe) How many readings in a row must pass (`for = 3`)."""
    # command
    run: str | None = None
    """(command) The command line; ${VAR}, {deployment_url} and {sha} are filled in."""
    cwd: str | None = None
    """(command, tag) Where it runs, relative to the runbook file."""
    timeout: Seconds = Seconds(600.0)
    """(command) How long it may run before it is stopped and fails."""
    # record
    pattern: str | None = None
    """(record) A regular expression the typed value must match in full."""
    source: str | None = msgspec.field(default=None, name="from")
    """(record) "deployments": take the live deployment's URL and SHA, ask to confirm."""
    name: str | None = msgspec.field(default=None, name="as")
    """(record) The placeholder the value fills in later commands, e.g. `as = "sha"` for
    {sha} (default: the step id with - as _). From deployments: {deployment_url}, {sha}."""
    # tag
    repo: str | None = None
    """(tag) A local git checkout, relative to the runbook file."""
    ref: str = "HEAD"
    """(tag) What the tag points at."""
    push: bool = False
    """(tag) Push the tag to `remote` after creating it."""
    remote: str = "origin"
    """(tag) Where it is pushed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = _problem(self)
        if problem:
            raise ValueError(problem)


def _problem(step: Step) -> str | None:
    kind = step.kind
    if kind is StepKind.PROBE:
        if not step.probe:
            return "a probe step needs `probe`"
        if step.probe not in PROBE_NAMES:
            return (f"unknown probe {escape_controls(repr(step.probe))}; the probes are: "
                    f"{', '.join(PROBE_NAMES)}")
        if not step.status and step.metric is None:
            return "a probe step needs `status` or `metric` (with `below` and/or `above`)"
        if step.metric is not None and step.below is None and step.above is None:
            return "`metric` needs `below` and/or `above`"
    elif kind is StepKind.COMMAND and not step.run:
        return "a command step needs `run`"
    elif kind is StepKind.RECORD:
        if step.source not in (None, "deployments"):
            return 'a record step takes its value `from = "deployments"` or from the operator'
        if step.pattern is not None:
            try:
                re.compile(step.pattern)
            except re.error as exc:
                return f"`pattern` is not a regular expression: {exc}"
    elif kind is StepKind.TAG and not step.repo:
        return "a tag step needs `repo` (a local git checkout)"
    return None


class Phase(Strict, kw_only=True):
    id: Slug
    """A stable slug, unique in the runbook."""
    title: str
    steps: Annotated[list[Step], Meta(min_length=1)]

    def __post_init__(self) -> None:
        super().__post_init__()
        twice = _repeated([step.id for step in self.steps])
        if twice is not None:
            raise ValueError(f"two steps are named {twice!r}")


def _repeated(ids: list[str]) -> str | None:
    """The first id that appears twice (None when each is unique)."""
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            return item
        seen.add(item)
    return None


class Runbook(Strict, kw_only=True):
    title: str = "Runbook"
    phases: Annotated[list[Phase], Meta(min_length=1)]
    rollback: RollbackPlan | None = None  # section 6: the plan `R` runs
    path: str = ""  # where it was read from (not a key of the file)

    def __post_init__(self) -> None:
        super().__post_init__()
        twice = _repeated([phase.id for phase in self.phases])
        if twice is not None:
            raise ValueError(f"two phases are named {twice!r}")

    def step(self, key: str) -> Step:
        """The step `phase-id/step-id` (KeyError when there is none)."""
        phase_id, _, step_id = key.partition("/")
        for phase in self.phases:
            if phase.id == phase_id:
                for step in phase.steps:
                    if step.id == step_id:
                        return step
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [f"{phase.id}/{step.id}" for phase in self.phases for step in phase.steps]


class _RunbookFile(Strict, kw_only=True):
    title: str = "Runbook"
    phases: Annotated[list[Phase], Meta(min_length=1)]
    rollback: RollbackPlan | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        twice = _repeated([phase.id for phase in self.phases])
        if twice is not None:
            raise ValueError(f"two phases are named {twice!r}")


def load_runbook(path: Path | None) -> Runbook:
    """The runbook at `path` (the built-in one when None); ConfigError naming the file, line
    and key of any mistake."""
    document = read_toml(path or BUILT_IN, "runbook file")
    _refuse_repeated_ids(document)
    parsed = convert(document, document.data, _RunbookFile, dec_hook=dec_hook)
    return Runbook(title=parsed.title, phases=parsed.phases, rollback=parsed.rollback,
                   path=str(document.path))


def _refuse_repeated_ids(document: Document) -> None:
    """A phase or step id used twice, named where the second one is written (the structs
    check it too, but can only point at the enclosing table)."""
    phases = document.data.get("phases")
    if not isinstance(phases, list):
        return
    first_phase: dict[str, int] = {}
    for index, phase in enumerate(phases):
        if not isinstance(phase, dict):
            continue
        _refuse_repeat(document, phase.get("id"), ("phases", str(index), "id"), first_phase,
                       index, "phase")
        steps = phase.get("steps")
        first_step: dict[str, int] = {}
        for number, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict):
                _refuse_repeat(document, step.get("id"),
                               ("phases", str(index), "steps", str(number), "id"),
                               first_step, number, "step")


def _refuse_repeat(document: Document, value: Any, loc: tuple[str, ...],
                   first: dict[str, int], index: int, what: str) -> None:
    if not isinstance(value, str):
        return
    if value in first:
        earlier = (*loc[:-2], str(first[value]), "id")
        line = document.index.line_of(earlier)
        raise ConfigError(f"{document.where(loc)}: {dotted(loc)}: two {what}s are named "
                          f"{escape_controls(repr(value))} (the first is {dotted(earlier)}"
                          f"{f', line {line}' if line else ''})")
    first[value] = index


__all__ = ["BUILT_IN", "PROBE_NAMES", "ConfigError", "Phase", "Runbook", "Step", "StepKind",
           "load_runbook"]

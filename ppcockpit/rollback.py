"""The guarded rollback's engine (no UI): the plan as shown, the evidence, and the run.

    engine = RollbackEngine.for_session(session)        # the plan of cockpit.toml/runbook
    await engine.load()                                  # the journal's half-done rollback
    view = await engine.resolve()                        # the target deployment, key counts
    evidence = engine.evidence()                         # why: what the modal shows
    await engine.execute(dry_run=False, trigger=evidence)   # after the typed arming
    await engine.decide("flush-personas", "skip", "cache is cold anyway")
    await engine.confirm("migrate-down", "migrate-down")     # a second confirmation

Every action is journaled before it starts and after it ends (ppcockpit.journal's
rollback_* events); the fold of those events (ppcockpit.rollback_progress) is the truth
after a crash: `execute(resume=True)` continues at the first unfinished action, and an
action that started but never finished asks (decide ... "retry") before it runs again.
On a failure the run stops and waits for `decide(action, "retry" | "skip" | "abort")`.
Progress goes to the session's listeners as RollbackProgressed / RollbackStateChanged;
`plan_view()` is the whole picture at any moment. Never in read-only, never two at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ppcockpit import telemetry as cockpit_events
from ppcockpit.journal import (
    ROLLBACK_ABORTED,
    ROLLBACK_ACTION_FINISHED,
    ROLLBACK_ACTION_STARTED,
    ROLLBACK_ARMED,
    ROLLBACK_DECIDED,
    ROLLBACK_FINISHED,
    ROLLBACK_RESUMED,
)
from ppcockpit.model import ProbeMisconfigured, TargetUnavailable
from ppcockpit.release_entry import Rollback
from ppcockpit.rollback_actions import (
    ActionContext,
    ActionRefused,
    ActionResult,
    PlanFacts,
    clean_line,
    describe,
    needs_second_confirmation,
    perform,
    resolve,
    variables_missing,
)
from ppcockpit.rollback_evidence import Evidence, gather_evidence
from ppcockpit.rollback_plan import ActionKind, RollbackAction, RollbackPlan
from ppcockpit.rollback_progress import (
    ABORT,
    CONFIRM,
    DECISIONS,
    OUTPUT_TAIL,
    RETRY,
    SKIP,
    ActionState,
    RollbackProgress,
    RollbackRecord,
    RollbackState,
    outcome,
)
from ppcockpit.rollback_view import (
    ActionView,
    DeploymentView,
    PlanView,
    RollbackStatus,
    Waiting,
)
from ppcockpit.session import Refused, Session
from ppcockpit.session_events import RollbackProgressed, RollbackStateChanged
from ppcockpit.text import one_line

if TYPE_CHECKING:
    from ppcockpit.config_model import PosthogEnvironment
    from probes.hosting import HostingClient
    from probes.hosting_parse import Deployment

log = logging.getLogger(__name__)

OUTPUT_KEPT = 200  # lines of an action's output kept for the modal
MIN_REASON = 3  # characters: a skip needs a reason, not a keystroke
RESOLVE_TIMEOUT = 15.0
NO_PLAN = ("There is no rollback plan: add [rollback] with [[rollback.actions]] to "
           "cockpit.toml or to the runbook file (see README, “Rollback”).")


class RollbackEngine:
    """Runs one environment's rollback plan for a Session."""

    def __init__(self, session: Session, plan: RollbackPlan | None, *,
                 hosting: HostingClient | None = None, redis_url: str | None = None,
                 posthog: PosthogEnvironment | None = None,
                 variables: Mapping[str, str] | None = None, base_dir: Path | None = None,
                 clock: Callable[[], float] | None = None,
                 events: Sequence[Mapping[str, Any]] = (),
                 recent_errors: Callable[[], Sequence[str]] | None = None,
                 links: Sequence[tuple[str, str]] | None = None,
                 owns_hosting: bool = False,
                 progress: RollbackProgress | None = None) -> None:
        config = session.config
        self.session = session
        self.plan = plan
        self.environment = session.environment
        self.hosting = hosting
        self.redis_url = redis_url
        self.posthog = posthog
        self.variables = dict(variables) if variables is not None else \
            {**os.environ, **config.variables}
        self.base_dir = base_dir or config.path.parent
        self.clock = clock or session.context.clock
        self.recent_errors = recent_errors
        self.links = list(links) if links is not None else \
            [(link.title, link.url) for link in config.environment.links]
        self.redactor = config.redactor
        # The fold of the session's rollback_* events; shared with the session when it
        # keeps one (`session.rollbacks`), so the release log sees what runs here.
        self.progress = (progress if progress is not None else RollbackProgress()) \
            .apply_all(events)
        self._owns_hosting = owns_hosting
        self._live: Any = None  # LiveDeployments, once resolved
        self._hosting_problem: str | None = None
        self._resolved = False
        self._key_counts: dict[str, str] = {}
        self._redis_problem: str | None = None
        self._task: asyncio.Task[Any] | None = None
        self._record: RollbackRecord | None = None  # the one running, or just ended here
        self._running_action: str | None = None
        self._action_task: asyncio.Future[ActionResult] | None = None
        self._operator_cancel = False
        self._waiting: Waiting | None = None
        self._deciding = False
        self._decision: asyncio.Future[str] | None = None
        self._outputs: dict[tuple[str, str], deque[str]] = {}

    @classmethod
    def for_session(cls, session: Session, *, plan: RollbackPlan | None = None,
                    events: Sequence[Mapping[str, Any]] = (),
                    recent_errors: Callable[[], Sequence[str]] | None = None,
                    hosting: HostingClient | None = None) -> RollbackEngine:
        """The engine for the session's environment: the plan of cockpit.toml ([rollback]
        wins) or of the runbook file, the deployments probe's hosting client (or a new one),
        the environment's Redis and PostHog, the config's variables."""
        config = session.config
        environment = config.environment
        base_dir = config.path.parent
        if plan is None:
            plan = config.rollback
            runbook = session.context.runbook
            if plan is None and runbook is not None and runbook.rollback is not None:
                plan = runbook.rollback
                if config.cockpit.runbook and runbook.path:
                    base_dir = Path(runbook.path).parent
        owns = False
        if hosting is None:
            probe = session.runner.probes.get("deployments")
            hosting = getattr(probe, "client", None)
            if hosting is None and environment.hosting is not None:
                from probes.hosting import HostingClient

                hosting = HostingClient(environment.hosting, now=session.context.stack_now)
                owns = True
        shared = getattr(session, "rollbacks", None)
        return cls(session, plan, hosting=hosting, redis_url=environment.redis_url,
                   posthog=environment.posthog, base_dir=base_dir, events=events,
                   recent_errors=recent_errors, owns_hosting=owns,
                   progress=shared if isinstance(shared, RollbackProgress) else None)

    async def load(self) -> None:
        """Fold the session's journal in (a half-done rollback after a restart). The
        journal store must be able to read (FileJournal can)."""
        if self._task is not None:
            return  # the fold is being written by the run itself
        context = self.session.context
        reader = getattr(context.journal, "read", None)
        if reader is None or context.session_id is None:
            return
        read = await reader(context.session_id)
        fresh = RollbackProgress().apply_all(event.record() for event in read.events)
        self.progress.rollbacks, self.progress.problems = fresh.rollbacks, fresh.problems

    async def aclose(self) -> None:
        """Let go of what the engine opened itself (a hosting client it made)."""
        if self._owns_hosting and self.hosting is not None:
            await self.hosting.aclose()

    # --- what is known ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """A rollback (or a dry run) is being executed here now."""
        return self._task is not None

    @property
    def waiting(self) -> Waiting | None:
        return self._waiting

    def needs_second_confirmation(self, action_id: str) -> str | None:
        """The word to type before the action runs (migration_down: its id; FLUSHALL:
        "FLUSHALL"); None when it needs no second confirmation."""
        action = self._action(action_id)
        return needs_second_confirmation(action) if action is not None else None

    def clear_result(self) -> None:
        """Forget the rollback that ended here (the plan is then shown fresh); a running
        or half-done one stays."""
        if self._task is None:
            self._record = None

    def release_rollback(self) -> Rollback | None:
        """The release log's record of this session's newest real rollback."""
        return self.progress.release_rollback()

    def evidence(self) -> Evidence:
        """Why: the evidence now (the modal shows it live; `execute` journals it)."""
        session, config = self.session, self.session.config
        verdict = session.verdict()
        said = verdict.decision.value + (f": {'; '.join(verdict.reasons[:2])}"
                                         if verdict.reasons else "")
        return gather_evidence(self.environment, session.state.readings,
                               session.state.signals, self.clock(),
                               ignored_providers=config.probes.health.ignore_providers,
                               recent_errors=self.recent_errors, redact=self.redactor,
                               verdict=said)

    async def resolve(self, timeout: float = RESOLVE_TIMEOUT) -> PlanView:  # noqa: ASYNC109
        """Ask the hosting API for the live deployment and the one to return to, and
        count the keys each flush would remove (read-only); the plan as then known."""
        if self.plan is None:
            return self.plan_view()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(self._resolve_hosting(), self._count_keys())
        if not self._resolved and self._needs(ActionKind.HOSTING) and self.hosting is not None:
            self._hosting_problem = self._hosting_problem or \
                f"the hosting API did not answer within {timeout:g}s"
        return self.plan_view()

    def plan_view(self) -> PlanView:
        """The plan as shown now: every action with its target and state."""
        if self.plan is None:
            return PlanView(self.environment, (), problem=NO_PLAN)
        record = self._shown_record()
        facts = self._facts(record)
        actions = []
        for action in self.plan.actions:
            detail, blocked = describe(action, facts, self.plan, self.variables,
                                       self.redactor)
            kept = record.actions.get(action.id) if record is not None else None
            actions.append(self._action_view(action, detail, blocked, record, kept))
        if record is not None:  # actions of the armed plan that the plan no longer has
            names = {a.id for a in self.plan.actions}
            actions += [ActionView(a.id, a.kind, a.title, a.optional,
                                   "no longer in the plan", "no longer in the plan",
                                   a.state, a.summary, a.attempts, a.output_tail)
                        for a in record.actions.values() if a.id not in names]
        return PlanView(
            environment=self.environment, actions=tuple(actions),
            current=self._deployment_view(facts.current),
            target=self._deployment_view(facts.target),
            hosting_problem=facts.hosting_problem, resolved=self._resolved,
            rollback=self._status(record) if record is not None else None)

    def _action_view(self, action: RollbackAction, detail: str, blocked: str | None,
                     record: RollbackRecord | None, kept: Any) -> ActionView:
        state = ActionState.PENDING
        if kept is not None:
            state = kept.state
            if self._running_action == action.id:
                state = ActionState.RUNNING
        output = self._outputs.get((record.id, action.id)) if record is not None else None
        lines = tuple(output) if output is not None else \
            (kept.output_tail if kept is not None else ())
        return ActionView(
            id=action.id, kind=action.kind.value, title=one_line(action.title, 120),
            optional=action.optional, detail=self.redactor(detail),
            blocked=self.redactor(blocked) if blocked else None, state=state,
            summary=kept.summary if kept is not None else "",
            attempts=kept.attempts if kept is not None else 0, output=lines,
            confirmation=needs_second_confirmation(action),
            confirmed=bool(kept and kept.confirmed), by=kept.by if kept else None,
            reason=kept.reason if kept else None)

    def _status(self, record: RollbackRecord) -> RollbackStatus:
        if record.state is RollbackState.FINISHED:
            state = "finished"
        elif record.state is RollbackState.ABORTED:
            state = "aborted"
        elif self._record is record and self._task is not None:
            state = "waiting" if self._waiting is not None else "running"
        else:
            state = "half-done"
        return RollbackStatus(record.id, record.dry_run, state, record.armed_by,
                              record.armed_at, record.trigger, outcome(record),
                              self._waiting if self._record is record else None)

    def _shown_record(self) -> RollbackRecord | None:
        """The rollback running here, else a half-done one, else the one that just ended
        here."""
        if self._record is not None and self._task is not None:
            return self._record
        return self.progress.open or self._record

    # --- resolving ----------------------------------------------------------------------

    def _facts(self, record: RollbackRecord | None = None) -> PlanFacts:
        """What the plan's details name: a rollback's own target and live deployment once
        it is armed (the journal's), else what the hosting API last said."""
        live = self._live
        if record is not None:
            target, current = record.target, record.current
        else:
            target, current = _brief(self._target()), _brief(live.current if live else None)
        client = self.hosting
        posthog = self.posthog
        shown_redis = None
        if self.redis_url:
            from ppcockpit.secrets import redact_url

            shown_redis = redact_url(self.redis_url)
        return PlanFacts(
            environment=self.environment, target=target, current=current,
            hosting_problem=None if target else self._hosting_problem, now=self._server_now(),
            hosting_target=client.target if client is not None else "",
            deployment_target=client.deployment_target if client is not None
            else "production",
            key_counts=dict(self._key_counts), redis_problem=self._redis_problem,
            redis_shown=shown_redis,
            has_posthog_key=bool(posthog and posthog.api_key),
            has_capture_key=bool(posthog and posthog.capture_key))

    def _target(self) -> Deployment | None:
        live = self._live
        if live is None or live.source != "project":
            return None
        return live.previous

    def _deployment_view(self, brief: Mapping[str, Any] | None) -> DeploymentView | None:
        """A {uid, url, sha, created} table (from the hosting API or the journal)."""
        if not brief or not isinstance(brief.get("uid"), str):
            return None
        created = brief.get("created")
        created = float(created) if isinstance(created, int | float) and \
            not isinstance(created, bool) else None
        age = round(max(0.0, self._server_now() - created), 1) if created is not None \
            else None
        url, sha = brief.get("url"), brief.get("sha")
        return DeploymentView(str(brief["uid"]), url if isinstance(url, str) else None,
                              sha if isinstance(sha, str) else None, created, age)

    def _server_now(self) -> float:
        """Now by the hosting API's clock (deployment times are its), else the stack's."""
        if self.hosting is not None:
            return self.hosting.server_now()
        return self.session.context.stack_now()

    def _needs(self, kind: ActionKind) -> bool:
        return self.plan is not None and any(a.kind is kind for a in self.plan.actions)

    async def _resolve_hosting(self) -> None:
        if not self._needs(ActionKind.HOSTING):
            return
        client = self.hosting
        if client is None:
            self._hosting_problem = (f"no [environments.{self.environment}.hosting] in "
                                     "cockpit.toml")
            return
        self._resolved = False  # until this answer is in
        try:
            await client.prepare()  # httpx's imports and TLS, off the loop (once)
            live = await client.current_and_previous()
        except (TargetUnavailable, ProbeMisconfigured) as exc:
            self._live, self._resolved = None, True
            self._hosting_problem = f"hosting API: {self.redactor(one_line(exc, 200))}"
            return
        except Exception as exc:  # outside trouble must never take the modal down
            self._live, self._resolved = None, True
            self._hosting_problem = (f"hosting API: {type(exc).__name__}: "
                                     f"{self.redactor(one_line(exc, 160))}")
            return
        self._live, self._resolved = live, True
        target = client.deployment_target
        if live.current is None:
            self._hosting_problem = f"no READY {target} deployment found"
        elif live.source != "project":
            self._hosting_problem = ("the live deployment is a guess (the project did not "
                                     "say which one serves it): no target is chosen")
        elif live.previous is None:
            self._hosting_problem = f"no previous READY {target} deployment to return to"
        else:
            self._hosting_problem = None

    async def _count_keys(self) -> None:
        if not self._needs(ActionKind.REDIS_FLUSH) or not self.redis_url:
            return
        from ppcockpit.rollback_redis import RedisKeys

        keys = RedisKeys(self.redis_url)
        assert self.plan is not None
        for action in self.plan.actions:
            if action.kind is not ActionKind.REDIS_FLUSH:
                continue
            try:
                if action.flushall:
                    size = await keys.dbsize()
                    self._key_counts[action.id] = f"{size:,} keys"
                elif not variables_missing(action, self.variables):
                    pattern = resolve(action.pattern, "pattern", self.variables,
                                      self.redactor) or ""
                    self._key_counts[action.id] = (await keys.count(pattern,
                                                                    action.batch)).text()
                self._redis_problem = None
            except (TargetUnavailable, ProbeMisconfigured, ActionRefused) as exc:
                self._redis_problem = self.redactor(one_line(exc, 160))
            except Exception as exc:
                self._redis_problem = f"{type(exc).__name__}: {self.redactor(one_line(exc))}"

    # --- running ------------------------------------------------------------------------

    async def execute(self, *, dry_run: bool = False, trigger: Evidence | None = None,
                      resume: bool = False, target_uid: str | None = None,
                      confirmations: Mapping[str, str] | None = None) -> RollbackRecord:
        """Arm and run the plan (or, `resume=True`, continue the half-done rollback at its
        first unfinished action). Returns when it has finished or was aborted.

        `trigger`: the evidence at arming (default: now). `target_uid`: the deployment
        the operator was shown; when the hosting API now names another, nothing runs.
        `confirmations`: second confirmations typed at arming, {action id: typed word}.
        Refused: read-only, no plan, one running already, a half-done one (resume or
        abort it first), a wrong confirmation."""
        if self._task is not None:
            raise Refused("A rollback is running: its progress is shown; a second one never "
                          "starts.")
        self.session.writable("a rollback")
        if self.plan is None:
            raise Refused(NO_PLAN)
        for action_id, typed in (confirmations or {}).items():
            self._check_confirmation(action_id, typed)
        task = asyncio.current_task()
        assert task is not None
        self._task = task  # before any await: a second execute is refused from here on
        try:
            if resume:
                record = await self._resume()
                dry_run = False
            else:
                record = await self._arm(dry_run, trigger, target_uid)
            for action_id in confirmations or {}:
                kept = record.actions.get(action_id)
                if kept is not None and not kept.confirmed and not kept.state.done:
                    await self._journal(ROLLBACK_DECIDED, rollback=record.id,
                                        action=action_id, decision=CONFIRM, reason="",
                                        dry_run=dry_run)
            await self._walk(record, dry_run)
            return record
        finally:
            self._task = None
            self._waiting = None
            self._decision = None
            self._running_action = None

    async def _resume(self) -> RollbackRecord:
        record = self.progress.open
        if record is None:
            raise Refused("There is no half-done rollback to resume.")
        self._record = record
        await self._journal(ROLLBACK_RESUMED, rollback=record.id, dry_run=False)
        self._state(record, "armed", f"Rollback {record.id} resumed by "
                                     f"{self.session.context.operator}")
        return record

    async def _arm(self, dry_run: bool, trigger: Evidence | None,
                   target_uid: str | None) -> RollbackRecord:
        assert self.plan is not None
        half_done = self.progress.open
        if half_done is not None and not dry_run:
            waiting = half_done.next_action()
            raise Refused(f"A rollback armed by {half_done.armed_by} at {half_done.armed_at} "
                          "is half-done" + (f" (at “{waiting.title}”, {waiting.state.value})"
                                            if waiting else "")
                          + ": resume it, or abort it first.")
        trigger = trigger or self.evidence()
        if self._needs(ActionKind.HOSTING):
            await self._resolve_hosting()
        target = self._target()
        if target_uid is not None and (target is None or target.uid != target_uid):
            now = target.uid if target is not None else "none"
            raise Refused(f"The deployment to return to changed since it was shown (it was "
                          f"{one_line(target_uid, 40)}, now {now}): look at the plan again.")
        live = self._live
        record = await self._journal(
            ROLLBACK_ARMED, rollback=f"rb-{secrets.token_hex(4)}", dry_run=dry_run,
            trigger=trigger.text(), evidence=trigger.as_json(),
            actions=[{"id": a.id, "kind": a.kind.value, "title": a.title,
                      "optional": a.optional} for a in self.plan.actions],
            target=_brief(target), current=_brief(live.current if live else None),
            stack_at=self.session.context.stack_now())
        assert record is not None
        self._record = record
        self._outputs = {}
        what = "Dry run" if dry_run else "Rollback"
        self._state(record, "armed", f"{what} of {self.environment} armed by "
                                     f"{self.session.context.operator}")
        if not dry_run:
            self._capture(cockpit_events.ROLLBACK_STARTED, record)
        return record

    async def _walk(self, record: RollbackRecord, dry_run: bool) -> None:
        for action_id in record.order:
            while record.state is RollbackState.OPEN:
                kept = record.actions[action_id]
                if kept.state.done:
                    break
                action = self._action(action_id)
                if dry_run:
                    await self._run_one(record, action_id, action, dry_run=True)
                    break
                if action is None or kept.state in (ActionState.FAILED,
                                                    ActionState.INTERRUPTED):
                    await self._wait(record, kept.id, action)
                    continue
                word = needs_second_confirmation(action)
                if word is not None and not kept.confirmed:
                    await self._wait(record, kept.id, action, word=word)
                    continue
                await self._run_one(record, action_id, action, dry_run=False)
            if record.state is not RollbackState.OPEN:
                return
        counts = record.counts()
        result = ", ".join(f"{n} {state.value}" for state, n in counts.items())
        if dry_run:
            failed = counts.get(ActionState.FAILED, 0)
            result = f"dry run: nothing was changed · {result}" + \
                (f" ({failed} could not run)" if failed else "")
        await self._journal(ROLLBACK_FINISHED, rollback=record.id, result=result,
                            dry_run=dry_run)
        what = "Dry run" if dry_run else "Rollback"
        self._state(record, "finished", f"{what} of {self.environment} finished: {result}")
        if not dry_run:
            self._capture(cockpit_events.ROLLBACK_FINISHED, record, result=result)
        self.session.notice(f"{what} of {self.environment} finished: {result}",
                            title="Rollback")

    async def _run_one(self, record: RollbackRecord, action_id: str,
                       action: RollbackAction | None, *, dry_run: bool) -> None:
        kept = record.actions[action_id]
        detail = "no longer in the plan"
        if action is not None:
            assert self.plan is not None
            detail, _ = describe(action, self._facts(record), self.plan, self.variables,
                                 self.redactor)
        await self._journal(ROLLBACK_ACTION_STARTED, rollback=record.id, action=action_id,
                            kind=kept.kind, attempt=kept.attempts + 1, dry_run=dry_run,
                            detail=detail)
        lines: deque[str] = deque(maxlen=OUTPUT_KEPT)
        self._outputs[(record.id, action_id)] = lines

        def line(text: str) -> None:
            shown = clean_line(text, self.redactor)
            lines.append(shown)
            self.session.emit(RollbackProgressed(record.id, action_id, "output", shown,
                                                 dry_run))

        self._running_action = action_id
        self.session.emit(RollbackProgressed(record.id, action_id, ActionState.RUNNING.value,
                                             "", dry_run))
        began = time.monotonic()
        try:
            result = await self._perform(record, action, line, dry_run)
        finally:
            self._running_action = None
        summary = clean_line(one_line(result.summary, 300), self.redactor)
        if not result.ok and (not lines or lines[-1] != summary):
            lines.append(summary)
        await self._journal(ROLLBACK_ACTION_FINISHED, rollback=record.id, action=action_id,
                            result="ok" if result.ok else "failed", summary=summary,
                            output_tail=list(lines)[-OUTPUT_TAIL:],
                            duration_s=round(time.monotonic() - began, 3), dry_run=dry_run)
        state = ActionState.OK if result.ok else ActionState.FAILED
        self.session.emit(RollbackProgressed(record.id, action_id, state.value, summary,
                                             dry_run))

    async def _perform(self, record: RollbackRecord, action: RollbackAction | None,
                       line: Callable[[str], None], dry_run: bool) -> ActionResult:
        """One action, in a task of its own (`cancel()` stops it); every way it can end
        becomes a result. A cancellation from outside (the cockpit closing) propagates:
        the action stays `interrupted` in the journal, truthfully."""
        if action is None:
            return ActionResult(False, "no longer in the plan: skip it or abort")
        context = self._context(record, action, line)
        self._operator_cancel = False
        inner = asyncio.ensure_future(perform(action, context, dry_run=dry_run))
        self._action_task = inner
        task = asyncio.current_task()
        try:
            result = await inner
        except ActionRefused as exc:
            result = ActionResult(False, str(exc))
        except asyncio.CancelledError:
            if not self._operator_cancel or (task is not None and task.cancelling()):
                raise
            note = " (the request may have reached the hosting API: Retry looks first)" \
                if action.kind is ActionKind.HOSTING else ""
            result = ActionResult(False, f"cancelled by {self.session.context.operator}"
                                         + note)
        except (TargetUnavailable, ProbeMisconfigured) as exc:
            result = ActionResult(False, one_line(exc, 300))
        except Exception as exc:
            log.warning("rollback action %s failed: %s", action.id, type(exc).__name__)
            result = ActionResult(False, f"{type(exc).__name__}: {one_line(exc, 240)}")
        finally:
            self._action_task = None
        if task is not None and task.cancelling():
            raise asyncio.CancelledError  # the action swallowed the cockpit's own stop
        return result

    def _context(self, record: RollbackRecord, action: RollbackAction,
                 line: Callable[[str], None]) -> ActionContext:
        assert self.plan is not None
        target = record.target or {}
        placeholders: dict[str, str] = {}
        if self.session.progress is not None:
            placeholders.update(self.session.progress.recorded)
        placeholders["environment"] = self.environment
        for key in ("uid", "sha", "url"):
            value = target.get(key)
            if isinstance(value, str) and value:
                placeholders[f"target_{key}"] = value
        done = [f"{a.title}: {a.result_text()}" for a in record.actions.values()
                if a.id != action.id and a.state is not ActionState.PENDING][:10]
        return ActionContext(
            plan=self.plan, record=record, environment=self.environment,
            operator=self.session.context.operator, variables=self.variables,
            base_dir=self.base_dir, redactor=self.redactor, line=line, hosting=self.hosting,
            redis_url=self.redis_url, posthog=self.posthog, telemetry=self.session.telemetry,
            placeholders=placeholders, links=self.links, done=done,
            confirmed=record.actions[action.id].confirmed)

    def cancel(self) -> bool:
        """Stop the action that is running (Ctrl+C in the modal): it ends failed, and the
        run waits for retry / skip / abort. False when nothing runs."""
        inner = self._action_task
        if inner is None or inner.done():
            return False
        self._operator_cancel = True
        inner.cancel()
        return True

    # --- decisions ----------------------------------------------------------------------

    async def _wait(self, record: RollbackRecord, action_id: str,
                    action: RollbackAction | None, *, word: str | None = None) -> str:
        kept = record.actions[action_id]
        if action is None:
            why, message = "missing", (f"“{kept.title}” is no longer in the plan: skip it "
                                       "(with a reason) or abort.")
        elif word is not None:
            why, message = "confirm", (f"“{kept.title}” asks its own confirmation: type "
                                       f"{word} to run it, or skip it, or abort.")
        elif kept.state is ActionState.INTERRUPTED:
            why, message = "interrupted", (
                f"“{kept.title}” was interrupted (the cockpit stopped while it ran): run it "
                "again (retry), skip it" + ("" if kept.optional else " with a reason")
                + ", or abort.")
        else:
            why, message = "failed", (
                f"“{kept.title}” failed: {kept.summary or 'no reason given'}. Retry, skip"
                + ("" if kept.optional else " (with a reason)") + ", or abort.")
        self._decision = asyncio.get_running_loop().create_future()
        self._waiting = Waiting(action_id, why, self.redactor(message), word)
        self._state(record, "waiting", self._waiting.message, action=action_id)
        try:
            return await self._decision
        finally:
            self._waiting = None
            self._decision = None

    def _decidable(self, action_id: str) -> tuple[RollbackRecord, Any]:
        record = self._record if self._task is not None else self.progress.open
        if record is None:
            raise Refused("There is no rollback waiting for a decision.")
        kept = record.actions.get(action_id)
        if kept is None:
            raise Refused(f"This rollback has no action {one_line(action_id, 64)!r}.")
        return record, kept

    async def decide(self, action_id: str, decision: str, reason: str = "") -> None:
        """The operator's answer for a failed or interrupted action: "retry" (run it again),
        "skip" (with a typed reason unless the action is optional) or "abort" (the
        rollback ends here). Each is journaled. Works after a restart too, before
        `execute(resume=True)`."""
        self.session.writable("a rollback decision")
        if decision not in DECISIONS:
            raise Refused("Say retry, skip or abort.")
        record, kept = self._decidable(action_id)
        waiting = self._waiting
        if self._task is not None:
            if waiting is None or waiting.action != action_id:
                state = "running" if self._running_action == action_id else kept.state.value
                raise Refused(f"“{kept.title}” is not waiting for a decision ({state}).")
            if decision == RETRY and waiting.why in ("confirm", "missing"):
                raise Refused(f"“{kept.title}”: type {waiting.word} to run it, skip it or "
                              "abort." if waiting.word else
                              f"“{kept.title}” is no longer in the plan: skip it or abort.")
        elif decision != ABORT and (record.next_action() is not kept or kept.state not in (
                ActionState.FAILED, ActionState.INTERRUPTED)):
            raise Refused(f"“{kept.title}” is {kept.state.value}: nothing to decide.")
        reason = one_line(reason, 300)
        if decision == SKIP and not kept.optional and len(reason) < MIN_REASON:
            raise Refused(f"Skipping “{kept.title}” needs a reason of a few words (it is not "
                          "optional).")
        with self._one_decision():
            if decision == ABORT:
                await self._journal(ROLLBACK_ABORTED, rollback=record.id, action=action_id,
                                    reason=reason or "aborted by the operator",
                                    dry_run=record.dry_run)
                message = f"Rollback {record.id} aborted at “{kept.title}”" + \
                    (f": {reason}" if reason else "")
                self._state(record, "aborted", message)
                self.session.notice(message, title="Rollback", severity="warning")
            else:
                await self._journal(ROLLBACK_DECIDED, rollback=record.id, action=action_id,
                                    decision=decision, reason=reason, dry_run=record.dry_run)
            self._answer(action_id, decision)

    @contextlib.contextmanager
    def _one_decision(self) -> Iterator[None]:
        """One decision at a time: a second Enter while the first is being journaled is
        refused, never journaled twice."""
        if self._deciding:
            raise Refused("A decision is being recorded.")
        self._deciding = True
        try:
            yield
        finally:
            self._deciding = False

    def _check_confirmation(self, action_id: str, typed: str) -> str:
        action = self._action(action_id)
        if action is None:
            raise Refused(f"The plan has no action {one_line(action_id, 64)!r}.")
        word = needs_second_confirmation(action)
        if word is None:
            raise Refused(f"“{action.title}” needs no second confirmation.")
        if typed.strip() != word:
            said = "is only part of it" if typed.strip() and word.startswith(typed.strip()) \
                else "is not it"
            raise Refused(f"Type {word} exactly to run “{action.title}”: what was typed "
                          f"{said}.")
        return word

    async def confirm(self, action_id: str, typed: str) -> None:
        """The second typed confirmation of a migration_down (its id) or a FLUSHALL
        ("FLUSHALL"): journaled; the run goes on if it was waiting for it."""
        self.session.writable("a rollback confirmation")
        self._check_confirmation(action_id, typed)
        record, kept = self._decidable(action_id)
        if kept.state.done:
            raise Refused(f"“{kept.title}” is {kept.state.value}: nothing to confirm.")
        with self._one_decision():
            if not kept.confirmed:
                await self._journal(ROLLBACK_DECIDED, rollback=record.id, action=action_id,
                                    decision=CONFIRM, reason="", dry_run=record.dry_run)
            if self._waiting is not None and self._waiting.action == action_id and \
                    self._waiting.why == "confirm":
                self._answer(action_id, CONFIRM)

    def _answer(self, action_id: str, decision: str) -> None:
        if self._decision is not None and not self._decision.done() and \
                self._waiting is not None and self._waiting.action == action_id:
            self._decision.set_result(decision)

    # --- telling ------------------------------------------------------------------------

    async def _journal(self, event: str, **fields: Any) -> RollbackRecord | None:
        """Journal (and wait for the disk), then fold it in."""
        written = await self.session.journal(event, **fields)
        return self.progress.apply(written)

    def _state(self, record: RollbackRecord, state: str, message: str,
               action: str | None = None) -> None:
        self.session.emit(RollbackStateChanged(record.id, state, self.redactor(message),
                                               action, record.dry_run))

    def _capture(self, name: str, record: RollbackRecord, **extra: Any) -> None:
        """The cockpit's own telemetry (not the plan's posthog action)."""
        telemetry = self.session.telemetry
        if telemetry is None:
            return
        target = record.target or {}
        telemetry.capture(name, self.redactor.data({
            "rollback": record.id, "target_uid": target.get("uid"), **extra}))

    def _action(self, action_id: str) -> RollbackAction | None:
        if self.plan is None:
            return None
        return next((a for a in self.plan.actions if a.id == action_id), None)


def _brief(deployment: Deployment | None) -> dict[str, Any] | None:
    if deployment is None:
        return None
    return {"uid": deployment.uid, "url": deployment.url, "sha": deployment.sha,
            "created": deployment.created}


__all__ = ["ActionView", "DeploymentView", "PlanView", "RollbackEngine", "RollbackStatus",
           "Waiting"]

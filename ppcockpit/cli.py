"""The `ppcockpit` command: the cockpit and its headless twins. The one place (with app.py)
that wires config, probes, the session and the screens together.

Global flags (--config, --env, --env-file, --read-only, --theme, --new-session) work before
or after the command: `ppcockpit --theme light rehearse` and `ppcockpit rehearse --theme
light` are the same.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ppcockpit.checklist import Checklist
from ppcockpit.config import Config, ConfigError, find_config, load_config
from ppcockpit.config_model import EnvironmentConfig
from ppcockpit.model import Reading, Status
from ppcockpit.probe import Probe
from ppcockpit.report import as_json, as_table
from ppcockpit.runbook import Runbook, load_runbook
from ppcockpit.runner import ProbeRunner
from ppcockpit.session import Session, SessionContext
from ppcockpit.text import one_line
from ppcockpit.verdict import decide

EXIT_GO, EXIT_NO_GO, EXIT_USAGE = 0, 1, 2
COMMANDS = ("check", "rehearse", "runbook", "journal", "release-log", "rollback")


class GlobalFlags(msgspec.Struct, frozen=True):
    config: str | None = None
    env: str | None = None
    env_file: str | None = None
    read_only: bool = False
    theme: str | None = None
    new_session: bool = False


def skipped(name: str, reason: str) -> Reading:
    """The reading of a probe that has nothing to watch: shown, never counted as a failure."""
    return Reading(probe=name, target="-", status=Status.SKIPPED,
                   summary=f"not configured: {reason}")


DISABLED_NAMES = {"health": ("health",), "redis": ("redis",), "posthog": ("posthog",),
                  "supabase": ("supabase_backups", "supabase_migrations", "supabase_auth"),
                  "pwa": ("pwa",), "secrets": ("secrets",), "deployments": ("deployments",)}


def build_probes(config: Config, env: EnvironmentConfig | None = None,
                 only: set[str] | None = None, now: Callable[[], float] = time.time,
                 ) -> tuple[list[Probe], list[Reading]]:
    """The probes the configuration asks for (of `env`, by default the chosen environment;
    only those named in `only` when given), and a `skipped` reading for each one that
    lacks what it needs. `now` is the clock the watched stack lives on (a rehearsal's runs
    faster). Probe modules are imported here, when first needed."""
    env = env or config.environment
    settings = config.probes
    probes: list[Probe] = []
    fixed: list[Reading] = []

    def wanted(*names: str) -> bool:
        return only is None or bool(only & set(names))

    # A probe turned off is said to be so: a GO from part of the evidence must say which
    # part was not checked.
    for section, names in DISABLED_NAMES.items():
        if not getattr(settings, section).enabled:
            fixed += [skipped(name, f"disabled ([probes.{section}] enabled = false)")
                      for name in names if only is None or name in only]

    if settings.health.enabled and wanted("health"):
        from probes.health import HealthProbe

        probes.append(HealthProbe(env.base_url, settings.health))
    if settings.redis.enabled and wanted("redis"):
        if env.redis_url:
            from probes.redis import RedisProbe

            probes.append(RedisProbe(env.redis_url, settings.redis))
        else:
            fixed.append(skipped("redis", "no redis_url"))
    if settings.posthog.enabled and wanted("posthog"):
        if env.posthog and env.posthog.api_key:
            from probes.posthog import PosthogProbe

            probes.append(PosthogProbe(env.posthog, settings.posthog, now=now))
        else:
            fixed.append(skipped("posthog", "no [environments.*.posthog] api_key"))
    if settings.supabase.enabled and wanted("supabase_backups", "supabase_migrations",
                                            "supabase_auth"):
        probes_, fixed_ = _supabase_probes(config, env, only, now)
        probes += probes_
        fixed += fixed_
    if settings.pwa.enabled and wanted("pwa"):
        from probes.pwa import PwaProbe

        probes.append(PwaProbe(env.base_url, settings.pwa))
    if settings.secrets.enabled and wanted("secrets"):
        secrets = settings.secrets
        if secrets.reference and secrets.candidate:
            from probes.secrets_parity import SecretsParityProbe

            probes.append(SecretsParityProbe(config.resolve_path(secrets.reference),
                                             config.resolve_path(secrets.candidate), secrets))
        else:
            fixed.append(skipped("secrets", "[probes.secrets] reference and candidate unset"))
    if settings.deployments.enabled and wanted("deployments"):
        if env.hosting:
            from probes.deployments import DeploymentsProbe

            probes.append(DeploymentsProbe(env.hosting, settings.deployments, now=now))
        else:
            fixed.append(skipped("deployments", "no [environments.*.hosting]"))
    return probes, fixed


def _supabase_probes(config: Config, env: EnvironmentConfig, only: set[str] | None,
                     now: Callable[[], float]) -> tuple[list[Probe], list[Reading]]:
    supabase, settings = env.supabase, config.probes.supabase
    probes: list[Probe] = []
    fixed: list[Reading] = []
    if supabase and supabase.project_ref and supabase.access_token:
        from probes.supabase_backups import SupabaseBackupsProbe
        from probes.supabase_migrations import SupabaseMigrationsProbe

        folder = config.resolve_path(supabase.migrations_dir) if supabase.migrations_dir else None
        probes.append(SupabaseBackupsProbe(supabase, settings, now=now))
        probes.append(SupabaseMigrationsProbe(supabase, settings, migrations_dir=folder,
                                              now=now))
    else:
        reason = "no [environments.*.supabase] project_ref and access_token"
        fixed += [skipped("supabase_backups", reason), skipped("supabase_migrations", reason)]
    if (supabase and supabase.url and supabase.anon_key and supabase.test_user_email
            and supabase.test_user_password):
        from probes.supabase_auth import SupabaseAuthProbe

        probes.append(SupabaseAuthProbe(supabase, settings))
    else:
        fixed.append(skipped("supabase_auth", "no supabase url, anon_key and test user"))
    if only is not None:
        probes = [p for p in probes if p.name in only]
        fixed = [r for r in fixed if r.probe in only]
    return probes, fixed


def build_runner(config: Config, env: EnvironmentConfig | None = None,
                 only: set[str] | None = None, now: Callable[[], float] = time.time,
                 ) -> ProbeRunner:
    probes, fixed = build_probes(config, env, only, now)
    return ProbeRunner(probes, sanitize=config.redactor, fixed=fixed)


# --- the command line ---------------------------------------------------------------------

def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppcockpit", allow_abbrev=False, add_help=False,
        description="A terminal cockpit for shipping Pocket Philosopher to production.")
    parser.add_argument("--config", metavar="PATH",
                        help="cockpit.toml (default: $PPCOCKPIT_CONFIG, then ./cockpit.toml)")
    parser.add_argument("--env", metavar="NAME", help="the environment to watch")
    parser.add_argument("--env-file", metavar="PATH",
                        help="a .env file that supplies ${VAR} values")
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every action that changes anything")
    parser.add_argument("--theme", metavar="NAME", help="dark, light or high-contrast")
    parser.add_argument("--new-session", action="store_true",
                        help="start a new deployment session instead of resuming the open one")
    return parser


USAGE = """usage: ppcockpit [GLOBAL FLAGS] [COMMAND ...]

  (no command)               the cockpit
  check [--json] [--only NAME,...]
                             one sweep of every probe: exit 0 go, 1 no-go, 2 usage
  rehearse [--scenario NAME] [--no-tui] [--list-scenarios] [--time-scale X]
                             a local stand-in of the whole stack, with the cockpit on it
  runbook status [--session ID] [--json]
  runbook import FILE.md [-o FILE]
  journal list [--json] | journal show ID [--json]
  release-log [--session ID] [--format markdown|toml]
  rollback plan [--json]     the rollback plan, its target resolved; nothing runs

global flags (before or after the command):
  --config PATH   --env NAME   --env-file PATH   --read-only   --theme NAME   --new-session
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    try:
        known, rest = _global_parser().parse_known_args(args)
    except SystemExit as exc:  # argparse printed the reason
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    flags = GlobalFlags(known.config, known.env, known.env_file, known.read_only,
                        known.theme, known.new_session)
    command = rest[0] if rest else None
    if command not in (None, "rehearse"):
        gc.enable()  # off for start-up (ppcockpit.entry); only the cockpit turns it on later
    try:
        if command is None:
            return run_cockpit(_config(flags), flags)
        if command == "rehearse":
            from ppcockpit.rehearsal.command import main as rehearse_main

            return rehearse_main(rest[1:], lambda handle: _open_rehearsal(handle, flags))
        if command == "check":
            return _check(rest[1:], flags)
        if command == "rollback":
            from ppcockpit import cli_rollback

            return cli_rollback.main(rest[1:], flags)
        if command in ("runbook", "journal", "release-log"):
            from ppcockpit import cli_records

            return cli_records.main(command, rest[1:], flags)
        near = _near(command, COMMANDS)
        raise ConfigError(f"unknown command {command!r}"
                          + (f"; did you mean {near!r}?" if near else "")
                          + f" (the commands are: {', '.join(COMMANDS)}; see --help)")
    except ConfigError as exc:
        print(f"ppcockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _config(flags: GlobalFlags) -> Config:
    return load_config(find_config(flags.config), flags.env, flags.env_file)


def _near(word: str, choices: Sequence[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _check(argv: list[str], flags: GlobalFlags) -> int:
    parser = argparse.ArgumentParser(prog="ppcockpit check", allow_abbrev=False,
                                     description="one sweep of every probe, no TUI")
    parser.add_argument("--json", action="store_true", help="print the documented JSON object")
    parser.add_argument("--only", metavar="NAME,...", help="run only these probes")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    config = _config(flags)
    return asyncio.run(run_check(config, as_json_output=args.json, only=args.only))


async def run_check(config: Config, *, as_json_output: bool = False,
                    only: str | None = None) -> int:
    runner = build_runner(config)
    chosen = None
    if only:
        chosen = [name.strip() for name in only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in runner.names]
        if unknown or not chosen:
            await runner.stop()
            hints = [f"{name!r} (did you mean {near!r}?)" if (near := _near(name, runner.names))
                     else repr(name) for name in unknown]
            raise ConfigError(f"--only: unknown probe {', '.join(hints) or '(none)'}; "
                              f"the probes are: {', '.join(runner.names)}")
    try:
        readings = await runner.sweep(chosen)
    finally:
        await runner.stop()
    verdict = decide(readings)
    if as_json_output:
        text = as_json(config.environment_name, verdict, readings, redact=config.redactor.data)
    else:
        text = config.redactor(as_table(config.environment_name, verdict, readings,
                                        width=_terminal_width()))
    print_out(text)
    return EXIT_GO if verdict.go else EXIT_NO_GO


def _terminal_width() -> int | None:
    """The width to fit `check`'s table to: the terminal's ($COLUMNS wins), or None when
    stdout is not a terminal (never cut what goes to a log or a pipe)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    return os.get_terminal_size(sys.stdout.fileno()).columns


def print_out(text: str) -> None:
    """Print to stdout; a reader that went away (`check | head -1`) is not an error: the
    exit status still carries the verdict."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it at nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# --- the session ----------------------------------------------------------------------------

def journal_directory(config: Config) -> Path:
    from ppcockpit.journal import default_journal_dir

    if config.cockpit.journal_dir:
        return config.resolve_path(config.cockpit.journal_dir)
    return default_journal_dir()


def release_log_path(config: Config) -> Path:
    if config.cockpit.release_log:
        return config.resolve_path(config.cockpit.release_log)
    return journal_directory(config) / "release-log.toml"


def load_session_runbook(config: Config) -> Runbook:
    path = config.resolve_path(config.cockpit.runbook) if config.cockpit.runbook else None
    return load_runbook(path)


class Assembled(msgspec.Struct):
    """A session ready to run: the Session, its Checklist, and what to tell the operator
    about how it was opened."""

    session: Session
    checklist: Checklist
    notes: list[str]


def build_session(config: Config, flags: GlobalFlags, *, rehearsal: bool = False,
                  stack_clock: Callable[[], float] = time.time,
                  session_id: str | None = None,
                  open_journal: bool = True) -> Assembled:
    """The session for the cockpit and its headless twins: the runbook, the journal (the
    open session of this environment resumed, or a new one), the probes of every
    environment the runbook reads. Blocking file work: call it before the event loop."""
    from ppcockpit.journal import FileJournal

    runbook = load_session_runbook(config)
    notes: list[str] = []
    others: dict[str, ProbeRunner] = {}
    for name, probes in _other_environment_probes(config, runbook).items():
        try:
            environment = config.environment_config(name)
        except ConfigError as exc:
            # The steps that read it say why they cannot pass, rather than wait forever.
            reason = one_line(exc, 200)
            others[name] = ProbeRunner([], fixed=[skipped(p, reason) for p in sorted(probes)])
            notes.append(f"steps reading {name} cannot pass: {reason}")
            continue
        others[name] = build_runner(config, environment, only=probes, now=stack_clock)
    journal = FileJournal(journal_directory(config), redactor=config.redactor)
    files = journal.files
    info = None
    if session_id is not None:
        info = files.read(session_id).info
        if info is None:
            raise ConfigError(f"no journal session {session_id!r} in {files.directory}")
    elif open_journal:
        info = None if flags.new_session else files.open_session(config.environment_name)
        if info is None and not flags.read_only:
            info = files.create(config.environment_name, config.operator,
                                meta={"runbook": runbook.path, "config": str(config.path),
                                      "rehearsal": rehearsal})
            notes.append(f"new deployment session {info.id}")
        elif info is not None:
            notes.append(f"resumed deployment session {info.id} (opened {info.opened_at})")
    events: list[dict[str, Any]] = []
    if info is not None:
        read = files.read(info.id)
        events = [event.record() for event in read.events]
        notes += [f"journal {info.id}: {problem}" for problem in read.problems]
    context = SessionContext(config, operator=config.operator, read_only=flags.read_only,
                             journal=journal, session_id=info.id if info else None,
                             stack_clock=stack_clock, runbook=runbook, environments=others,
                             rehearsal=rehearsal, log_tail=build_log_tail(config))
    session = Session(context, build_runner(config, now=stack_clock), events)
    base = Path(runbook.path).parent if config.cockpit.runbook else config.path.parent
    checklist = Checklist(session, variables=config.variables, base_dir=base,
                          release_log=release_log_path(config))
    return Assembled(session, checklist, notes)


def build_log_tail(config: Config) -> Any:
    """The app's log stream, `[environments.NAME.logs]` (without one, the panel says that no
    source is configured). Nothing starts until the session does."""
    from ppcockpit.logs import LogBuffer
    from probes.log_tail import LogTail, make_log_source

    logs = config.environment.logs
    if logs is None:
        return LogTail(LogBuffer(10_000), None, redact=config.redactor)
    path = config.resolve_path(logs.path) if logs.path else None
    key_file = str(config.resolve_path(logs.key_file)) if logs.key_file else None
    source = make_log_source(logs.source, run=logs.run, host=logs.host, port=logs.port,
                             user=logs.user, key_file=key_file, known_hosts=logs.known_hosts,
                             path=path, max_line_bytes=logs.max_line_bytes,
                             tail_lines=logs.tail_lines, connect_timeout=logs.connect_timeout)
    return LogTail(LogBuffer(logs.max_lines), source, redact=config.redactor,
                   max_line_bytes=logs.max_line_bytes)


def _other_environment_probes(config: Config, runbook: Runbook) -> dict[str, set[str]]:
    """The probes of other environments the runbook's steps read, by environment."""
    wanted: dict[str, set[str]] = {}
    for phase in runbook.phases:
        for step in phase.steps:
            if step.probe and step.environment and step.environment != config.environment_name:
                wanted.setdefault(step.environment, set()).add(step.probe)
    return wanted


# --- the cockpit --------------------------------------------------------------------------

def run_cockpit(config: Config, flags: GlobalFlags, rehearsal: Any = None) -> int:
    from ppcockpit.app import make_app

    # A rehearsal's stack lives on simulated time: its probes, chart and header read that
    # clock, so one clock is on screen.
    clock = rehearsal.clock.now if rehearsal is not None else time.time
    assembled = build_session(config, flags, rehearsal=rehearsal is not None, stack_clock=clock)
    app = make_app(config, session=assembled.session, checklist=assembled.checklist,
                   theme=flags.theme, rehearsal=rehearsal, notes=assembled.notes,
                   save_dir=journal_directory(config).parent / "logs")
    app.run()
    return app.return_code or 0


def _open_rehearsal(handle: Any, flags: GlobalFlags) -> int:
    config_path: Path = handle.config_path
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"ppcockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_cockpit(config, flags, rehearsal=handle)


if __name__ == "__main__":
    sys.exit(main())

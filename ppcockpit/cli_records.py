"""The headless twins of the checklist, the journal and the release log:

    ppcockpit runbook status [--session ID] [--json]
    ppcockpit runbook import FILE.md [-o FILE]
    ppcockpit journal list [--json]
    ppcockpit journal show ID [--json]
    ppcockpit release-log [--session ID] [--format markdown|toml]

Each reads the same Session, journal and release log the cockpit does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from ppcockpit.config import Config, ConfigError
from ppcockpit.runbook import StepKind
from ppcockpit.runbook_engine import RunbookView
from ppcockpit.text import escape_controls, one_line

EXIT_OK, EXIT_USAGE = 0, 2


def main(command: str, argv: list[str], flags: Any) -> int:
    from ppcockpit import cli

    if command == "runbook":
        if argv[:1] == ["import"]:
            from ppcockpit.runbook_import import main as import_main

            return import_main(argv[1:])
        args = _parse("runbook status", argv[1:] if argv[:1] == ["status"] else None,
                      session=True, json_flag=True, first=argv[:1])
        if args is None:
            return EXIT_USAGE
        return runbook_status(cli._config(flags), flags, args.session, args.json)
    if command == "journal":
        if argv[:1] == ["list"]:
            args = _parse("journal list", argv[1:], json_flag=True)
            return EXIT_USAGE if args is None else journal_list(cli._config(flags), args.json)
        if argv[:1] == ["show"]:
            args = _parse("journal show", argv[1:], json_flag=True, session_id=True)
            return EXIT_USAGE if args is None else journal_show(cli._config(flags), args.id,
                                                                args.json)
        raise ConfigError("journal: say `journal list` or `journal show ID`")
    if command == "release-log":
        args = _parse("release-log", argv, session=True, format_flag=True)
        return EXIT_USAGE if args is None else release_log(cli._config(flags), flags,
                                                           args.session, args.format)
    raise ConfigError(f"unknown command {command!r}")


def _parse(prog: str, argv: Sequence[str] | None, *, session: bool = False,
           json_flag: bool = False, session_id: bool = False, format_flag: bool = False,
           first: Sequence[str] = ()) -> argparse.Namespace | None:
    if argv is None:
        raise ConfigError(f"runbook: say `runbook status` or `runbook import FILE.md` "
                          f"(got {escape_controls(' '.join(first)) or 'nothing'})")
    parser = argparse.ArgumentParser(prog=f"ppcockpit {prog}", allow_abbrev=False)
    if session_id:
        parser.add_argument("id", metavar="ID", help="the session id (see `journal list`)")
    if session:
        parser.add_argument("--session", metavar="ID",
                            help="that session (default: the open one of the environment)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON")
    if format_flag:
        parser.add_argument("--format", choices=("markdown", "toml"), default="markdown")
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code == 0:
            raise
        return None


# --- runbook status ------------------------------------------------------------------------

def runbook_status(config: Config, flags: Any, session_id: str | None, as_json: bool) -> int:
    """Every step's state, from the journal and one sweep of the probes the steps read."""
    from ppcockpit import cli

    assembled = cli.build_session(config, replace(flags, read_only=True),
                                  session_id=session_id)
    for note in assembled.notes:
        print(f"ppcockpit: {note}", file=sys.stderr)
    session = assembled.session
    wanted = {step.probe for phase in session.progress.runbook.phases  # type: ignore[union-attr]
              for step in phase.steps if step.kind is StepKind.PROBE and step.probe
              and (step.environment or config.environment_name) == config.environment_name}

    async def sweep() -> RunbookView:
        try:
            names = [name for name in session.runner.names if name in wanted]
            await session.sweep(names)
        finally:
            await session.stop()
        view = session.runbook_view()
        assert view is not None
        return view

    view = asyncio.run(sweep())
    if as_json:
        cli.print_out(json.dumps(config.redactor.data(view.as_json()), indent=2))
    else:
        cli.print_out(config.redactor(_status_text(view)))
    return EXIT_OK


def _status_text(view: RunbookView) -> str:
    lines = [f"{view.title} · {view.environment} · "
             f"{'session ' + view.session if view.session else 'no open session'}", ""]
    for number, phase in enumerate(view.phases, start=1):
        lines.append(f"{number}. {phase.title}  {phase.done}/{len(phase.steps)}  "
                     f"[{phase.state.value}]")
        for step in phase.steps:
            who = f" · {step.by}" if step.by else ""
            lines.append(f"   {step.state.glyph} {step.state.value:<11} {step.title}{who}")
            if step.state.value not in ("done", "pending"):
                lines.append(f"     {one_line(step.detail, 160)}")
    return "\n".join(lines)


# --- journal ------------------------------------------------------------------------------

def _files(config: Config) -> Any:
    from ppcockpit import cli
    from ppcockpit.journal import FileJournal

    return FileJournal(cli.journal_directory(config), redactor=config.redactor).files


def journal_list(config: Config, as_json: bool) -> int:
    from ppcockpit import cli

    sessions = _files(config).list_sessions()
    if as_json:
        cli.print_out(json.dumps([msgspec.structs.asdict(s) for s in sessions], indent=2,
                                 default=str))
        return EXIT_OK
    if not sessions:
        cli.print_out("no deployment sessions journaled yet")
        return EXIT_OK
    lines = [f"{'session':<34} {'environment':<12} {'state':<7} {'events':>6}  operators"]
    for info in sessions:
        state = "closed" if info.closed else "open"
        lines.append(f"{escape_controls(info.id):<34} {escape_controls(info.environment):<12} "
                     f"{state:<7} {info.event_count:>6}  "
                     f"{escape_controls(', '.join(info.operators))}")
    cli.print_out(config.redactor("\n".join(lines)))
    return EXIT_OK


def journal_show(config: Config, session_id: str, as_json: bool) -> int:
    from ppcockpit import cli
    from ppcockpit.journal import JournalError

    try:
        read = _files(config).read(session_id)
    except JournalError as exc:
        raise ConfigError(str(exc)) from None
    if read.info is None and not read.events:
        raise ConfigError(f"no journal session {escape_controls(session_id)!r}")
    if as_json:
        cli.print_out(json.dumps({
            "session": msgspec.structs.asdict(read.info) if read.info else None,
            "events": [event.record() for event in read.events],
            "problems": [str(problem) for problem in read.problems]}, indent=2, default=str))
        return EXIT_OK
    lines = []
    for event in read.events:
        said = " ".join(f"{key}={_short(value)}" for key, value in event.fields.items()
                        if key != "output_tail")
        lines.append(f"{event.at}  {escape_controls(event.operator):<10} {event.event:<20} "
                     f"{said}")
    lines += [f"! {problem}" for problem in read.problems]
    cli.print_out(config.redactor("\n".join(lines)))
    return EXIT_OK


def _short(value: object) -> str:
    return one_line(json.dumps(value, default=str) if not isinstance(value, str) else value,
                    80)


# --- release log ---------------------------------------------------------------------------

def release_log(config: Config, flags: Any, session_id: str | None, fmt: str) -> int:
    """The entry written when the session ended (the newest one by default); for a session
    still open, the entry it would write now."""
    from ppcockpit import cli
    from ppcockpit.release_entry import ReleaseEntry
    from ppcockpit.release_log import read_release_log, toml
    from ppcockpit.release_markdown import markdown

    written = read_release_log(cli.release_log_path(config))
    entries = [ReleaseEntry.from_toml(table) for table in written]
    found = [e for e in entries if session_id is None or e.session == session_id]
    if found:
        entry = found[-1]
    elif session_id is not None:
        assembled = cli.build_session(config, replace(flags, read_only=True),
                                      session_id=session_id)
        entry = assembled.checklist.release_entry()
        print(f"ppcockpit: session {session_id} has not ended: this is the entry it would "
              "write now", file=sys.stderr)
    else:
        raise ConfigError(f"no release logged yet in {cli.release_log_path(config)}")
    redact = config.redactor
    cli.print_out(markdown(entry, redact) if fmt == "markdown" else toml(entry, redact))
    return EXIT_OK

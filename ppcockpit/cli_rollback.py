"""`ppcockpit rollback plan [--env NAME] [--json]`: the rollback plan as the `R` modal shows
it, headless. Nothing runs: the deployment it would return to is asked of the hosting API
and the keys a flush would remove are counted (both read-only).

Exit 0 with the plan; 2 when there is no plan (or the command line is wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from msgspec.structs import replace

from ppcockpit.config import ConfigError
from ppcockpit.text import one_line

EXIT_OK, EXIT_USAGE = 0, 2


def main(argv: list[str], flags: Any) -> int:
    """`argv` is what follows `rollback`; `flags` the cockpit's GlobalFlags."""
    from ppcockpit import cli

    if argv[:1] != ["plan"]:
        said = one_line(" ".join(argv), 60) or "nothing"
        raise ConfigError(f"rollback: say `rollback plan [--json]` (got {said!r})")
    parser = argparse.ArgumentParser(
        prog="ppcockpit rollback plan", allow_abbrev=False,
        description="the rollback plan, its target deployment resolved; nothing runs")
    parser.add_argument("--env", metavar="NAME", help="the environment (default: the config's)")
    parser.add_argument("--json", action="store_true", help="print the documented JSON object")
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    flags = replace(flags, env=args.env or flags.env, read_only=True)
    config = cli._config(flags)
    return print_plan(config, flags, as_json=args.json)


def print_plan(config: Any, flags: Any, *, as_json: bool) -> int:
    from ppcockpit import cli
    from ppcockpit.rollback import NO_PLAN, RollbackEngine

    assembled = cli.build_session(config, flags, open_journal=False)
    session = assembled.session
    engine = RollbackEngine.for_session(session)
    if engine.plan is None:
        asyncio.run(_close(engine))
        print(f"ppcockpit: {NO_PLAN}", file=sys.stderr)
        return EXIT_USAGE

    async def resolve() -> Any:
        try:
            return await engine.resolve()
        finally:
            await _close(engine)

    view = asyncio.run(resolve())
    redact = config.redactor
    if as_json:
        cli.print_out(json.dumps(redact.data(view.as_json()), indent=2))
    else:
        cli.print_out(redact(plan_text(view)))
    return EXIT_OK


async def _close(engine: Any) -> None:
    await engine.aclose()
    await engine.session.stop()


def plan_text(view: Any) -> str:
    """The plan as lines of text (clean: every outside value was made one line)."""
    lines = [f"Rollback plan · {view.environment}"]
    if view.current is not None:
        lines.append(f"  live now    {view.current.text()}")
    if view.target is not None:
        lines.append(f"  returns to  {view.target.text()}")
    else:
        lines.append(f"  returns to  nothing: {view.hosting_problem or 'no deployment known'}")
    lines.append("")
    for number, action in enumerate(view.actions, start=1):
        tags = action.kind + (", optional" if action.optional else "")
        lines.append(f"  {number}. {one_line(action.title, 100)}  [{tags}]")
        lines.append(f"     {action.detail}")
        if action.blocked:
            lines.append(f"     cannot run: {action.blocked}")
    lines.append("")
    lines.append("Nothing was run: `R` in the cockpit runs it, once the environment's name is "
                 "typed.")
    return "\n".join(lines)

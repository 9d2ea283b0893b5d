"""`ppcockpit rehearse ...`: start the stack (with or without the cockpit), list the
scenarios, or follow the stack's log file."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ppcockpit.rehearsal.follow import Follower
from ppcockpit.rehearsal.scenarios import CALM, SCENARIO_NAMES, SCENARIOS
from ppcockpit.rehearsal.stack import MAX_TIME_SCALE, RehearsalError, StackHandle, start_stack

PROG = "ppcockpit rehearse"
DEFAULT_TIME_SCALE = 10.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ENDPOINT_ORDER = ("redis", "app", "posthog", "supabase", "management", "vercel", "webhook",
                  "logs")


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= MAX_TIME_SCALE:
        raise argparse.ArgumentTypeError(
            f"must be above 0 and at most {MAX_TIME_SCALE:g}, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Start a local stand-in of the whole Pocket Philosopher stack (a real "
                    "redis-server, the app, PostHog, Supabase, Vercel) and open the cockpit "
                    "on it: a fire drill for the runbook.")
    parser.add_argument("--scenario", default=CALM, metavar="NAME",
                        help=f"what goes wrong (default {CALM}; see --list-scenarios)")
    parser.add_argument("--list-scenarios", action="store_true",
                        help="print the scenarios and exit")
    parser.add_argument("--no-tui", action="store_true",
                        help="print the config path and endpoints, serve until Ctrl-C")
    parser.add_argument("--time-scale", type=_time_scale, default=DEFAULT_TIME_SCALE,
                        metavar="X", help="simulated seconds per real second "
                                          f"(default {DEFAULT_TIME_SCALE:g})")
    sub = parser.add_subparsers(dest="action", metavar="logs")
    logs = sub.add_parser("logs", prog=f"{PROG} logs",
                          help="print the stack's log file and follow it as it grows")
    logs.add_argument("path", metavar="PATH", help="the log file (the `logs:` endpoint)")
    logs.add_argument("--no-follow", action="store_true",
                      help="print what is there and exit")
    logs.add_argument("-n", "--lines", type=int, default=200, metavar="N",
                      help="start with the last N lines (default 200; -1 for all)")
    return parser


def main(argv: list[str], open_cockpit: Callable[[StackHandle], int] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the reason
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.action == "logs":
        return _logs(Path(args.path), follow=not args.no_follow, lines=args.lines)
    if args.list_scenarios:
        width = max(len(name) for name in SCENARIO_NAMES)
        for scenario in SCENARIOS:
            print(f"{scenario.name:<{width}}  {scenario.description}")
        return EXIT_OK
    if args.scenario not in SCENARIO_NAMES:
        print(f"{PROG}: unknown scenario {args.scenario!r}; the scenarios are: "
              f"{', '.join(SCENARIO_NAMES)} (see --list-scenarios)", file=sys.stderr)
        return EXIT_USAGE
    try:
        handle = start_stack(args.scenario, args.time_scale)
    except RehearsalError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if args.no_tui or open_cockpit is None:
            return _serve(handle)
        return open_cockpit(handle)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        handle.stop()


def _serve(handle: StackHandle) -> int:
    print(f"config: {handle.config_path}", flush=True)
    for name in ENDPOINT_ORDER:
        print(f"{name}: {handle.endpoints[name]}")
    print(f"scenario: {handle.scenario} · rehearsal time runs ×{handle.time_scale:g} "
          f"(1 real second = {handle.time_scale:g} simulated seconds)")
    print("serving until Ctrl-C or SIGTERM", flush=True)
    stop = threading.Event()
    with _stop_on_signals(stop):
        while not stop.wait(0.5):
            pass
    return EXIT_OK


class _stop_on_signals:
    """SIGINT, SIGTERM and SIGHUP set `stop` instead of ending the process mid-cleanup."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, object] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def __enter__(self) -> None:
        for sig in self.SIGNALS:
            self.previous[sig] = signal.signal(sig, self._handler)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _logs(path: Path, *, follow: bool, lines: int) -> int:
    if not path.is_file():
        print(f"{PROG} logs: {path}: no such file", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            Follower(path, sys.stdout, stop).run(follow=follow, lines=lines)
    except BrokenPipeError:
        sys.stdout = None  # type: ignore[assignment]  # the reader left: nothing to flush
    except OSError as exc:
        print(f"{PROG} logs: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK

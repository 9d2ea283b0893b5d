"""Time the rehearsal stack's start-up against its 3 s budget, and its idle CPU cost.

    uv run python bench/rehearsal_startup.py [--runs 5] [--idle-seconds 5]

Measures (median of --runs):
- cold: `python -m ppcockpit.rehearsal --no-tui` from spawn until every endpoint line is
  printed (interpreter start, imports, redis-server, five HTTP servers, history, config);
- warm: `start_stack()` inside one process once the imports are done;
and the CPU the running stack costs (its own thread, default time scale), as % of one core.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 3.0
ENDPOINT_LINES = 8  # config + redis, app, posthog, supabase, management, vercel, logs
REPO = Path(__file__).resolve().parent.parent


def cold_start() -> float:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ppcockpit.rehearsal", "--no-tui"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout.fileno(), selectors.EVENT_READ)
    data = b""
    try:
        while data.count(b"\n") < ENDPOINT_LINES:
            if not selector.select(30):
                raise RuntimeError("the rehearsal did not print its endpoints within 30 s")
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("the rehearsal exited before printing its endpoints")
            data += chunk
        return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        process.stdout.close()
        selector.close()


def warm_start() -> tuple[float, float]:
    """(start seconds, stop seconds) of one start_stack() in this process."""
    from ppcockpit.rehearsal import start_stack

    started = time.perf_counter()
    handle = start_stack()
    ready = time.perf_counter()
    handle.stop()
    return ready - started, time.perf_counter() - ready


def idle_cpu(seconds: float) -> float:
    """% of one core the running stack uses while nothing else happens."""
    from ppcockpit.rehearsal import start_stack

    handle = start_stack()
    try:
        time.sleep(1.0)  # past the first steps
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        time.sleep(seconds)
        after = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = time.perf_counter() - wall
    finally:
        handle.stop()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 100.0 * cpu / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()

    cold = [cold_start() for _ in range(args.runs)]
    import_started = time.perf_counter()
    import redis.asyncio  # noqa: F401  (imported lazily by the stack)

    import ppcockpit.rehearsal  # noqa: F401

    imports = time.perf_counter() - import_started
    warm = [warm_start() for _ in range(args.runs)]
    cold_median = statistics.median(cold)
    warm_median = statistics.median(start for start, _ in warm)
    stop_median = statistics.median(stop for _, stop in warm)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"cold start (spawn to endpoints printed): median {cold_median:.3f}s of {args.runs} "
          f"(min {min(cold):.3f}, max {max(cold):.3f}) = {cold_median / BUDGET_S:.2f}x "
          f"of the {BUDGET_S:g}s budget")
    print(f"warm start_stack(): median {warm_median:.3f}s "
          f"= {warm_median / BUDGET_S:.2f}x of budget; imports {imports:.3f}s; "
          f"stop() median {stop_median:.3f}s")
    if args.idle_seconds > 0:
        print(f"running stack (time scale 10): {idle_cpu(args.idle_seconds):.1f}% of one core")
    return 0 if cold_median <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

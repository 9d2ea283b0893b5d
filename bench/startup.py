"""Start to first full frame: ppcockpit against a bare Textual app, in fresh interpreters.

Prints the medians and their ratio (budget: within 1.5x of the bare app). Each run is a new
process, so import time counts, exactly as it does for the engineer who types `ppcockpit`.
Usage: uv run python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# "frame" is printed by the callback that runs once the first full screen has been painted
# (call_after_refresh), the same way for both apps; what starts after that paint (probes,
# their imports in threads) is not counted.
READY = """
import asyncio

def painted_now(painted):
    print("frame", flush=True)  # from the after-paint callback itself, not a later await
    painted.set_result(None)

async def ready(pilot):
    painted = asyncio.get_running_loop().create_future()
    pilot.app.call_after_refresh(painted_now, painted)
    await painted
    pilot.app.exit()
"""

BARE = READY + """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()

Bare().run(headless=True, size=(160, 48), auto_pilot=ready)
"""

COCKPIT = """
import gc
gc.disable()  # as the `ppcockpit` command starts (ppcockpit.entry.main); on after the frame
""" + READY + """
import sys
from pathlib import Path
from ppcockpit.app import make_app
from ppcockpit.cli import GlobalFlags, build_session
from ppcockpit.config import load_config

config = load_config(Path(sys.argv[1]))
assembled = build_session(config, GlobalFlags())  # the runbook, the journal: as `ppcockpit`
make_app(config, session=assembled.session, checklist=assembled.checklist,
         notes=assembled.notes).run(headless=True, size=(160, 48), auto_pilot=ready)
"""

# Nothing listens on port 9: probes fail fast and the frame does not wait for any network.
CONFIG = """
[cockpit]
journal_dir = "journal"

[environments.bench]
base_url = "http://127.0.0.1:9"
redis_url = "redis://127.0.0.1:9/0"
"""


# Both apps start as installed software does: with bytecode cached (the warm-up run writes
# it), even where the environment sets PYTHONDONTWRITEBYTECODE.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_to_frame(code: str, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=CHILD_ENV)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "frame":
            elapsed = time.perf_counter() - started
            break
    else:
        raise SystemExit(f"no frame: {proc.stderr.read() if proc.stderr else ''}")
    proc.wait(timeout=30)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "cockpit.toml"
        config.write_text(CONFIG)
        time_to_frame(BARE)  # warm the file cache for both
        time_to_frame(COCKPIT, str(config))
        bare, cockpit = [], []
        for _ in range(args.runs):  # interleaved, so a busy moment hits both alike
            bare.append(time_to_frame(BARE))
            cockpit.append(time_to_frame(COCKPIT, str(config)))
    bare_ms, cockpit_ms = statistics.median(bare) * 1000, statistics.median(cockpit) * 1000
    ratio = cockpit_ms / bare_ms
    print(f"bare Textual app : {bare_ms:7.0f} ms (median of {args.runs})")
    print(f"ppcockpit        : {cockpit_ms:7.0f} ms (median of {args.runs})")
    print(f"ratio            : {ratio:7.2f}x  (budget 1.5x: {'OK' if ratio <= 1.5 else 'OVER'})")


if __name__ == "__main__":
    main()

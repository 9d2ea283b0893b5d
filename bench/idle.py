"""Idle cockpit CPU: ppcockpit at default intervals against a bare Textual app, same window.

The cockpit runs headless on the rehearsal stack (started here, in this process) with the
generated config's probe intervals reset to the defaults; each app measures its own CPU time
over the window after a warm-up. Budget: under 2% of one core.
Usage: uv run python bench/idle.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import tomli_w

from ppcockpit.rehearsal.stack import start_stack

MEASURE = """
import asyncio, sys, time
from pathlib import Path

WARMUP, WINDOW = float(sys.argv[1]), float(sys.argv[2])

async def measure(pilot):
    await asyncio.sleep(WARMUP)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(WINDOW)
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    print(f"cpu {share:.5f}", flush=True)
    pilot.app.exit()

if len(sys.argv) > 3:
    from ppcockpit.app import make_app
    from ppcockpit.cli import build_runner
    from ppcockpit.config import load_config
    config = load_config(Path(sys.argv[3]))
    app = make_app(config, build_runner(config))
else:
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Bare(App):
        def compose(self):
            yield Header()
            yield Static("hello")
            yield Footer()

    app = Bare()
app.run(headless=True, size=(160, 48), auto_pilot=measure)
"""

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu_share(seconds: float, *config: str) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, "5", str(seconds), *config],
                         capture_output=True, text=True, env=ENV, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("cpu "):
            return float(line.split()[1])
    raise SystemExit(f"no measurement: {out.stderr[-500:]}")


def default_intervals(generated: Path, target: Path) -> None:
    document = tomllib.loads(generated.read_text())
    for settings in document.get("probes", {}).values():
        settings.pop("interval", None)
        settings.pop("timeout", None)
    target.write_text(tomli_w.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    stack = start_stack("calm", time_scale=10.0)
    try:
        # Beside the generated config, so its relative paths (.env files) still resolve.
        config = stack.config_path.with_name("idle-bench.toml")
        default_intervals(stack.config_path, config)
        bare = cpu_share(args.seconds)
        cockpit = cpu_share(args.seconds, str(config))
    finally:
        stack.stop()
    print(f"bare Textual app, idle : {bare * 100:6.2f}% of one core")
    print(f"ppcockpit, idle        : {cockpit * 100:6.2f}% of one core "
          f"(default intervals, {args.seconds:.0f} s window)")
    verdict = "OK" if cockpit < 0.02 else "OVER"
    print(f"over the bare app      : {(cockpit - bare) * 100:+6.2f} points  "
          f"(budget: under 2% of one core: {verdict})")


if __name__ == "__main__":
    main()

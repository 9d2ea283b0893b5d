"""Command step output throughput: run_step_command against a bare asyncio reader, same run.

Both read the same command's output (`seq N`, and N lines of 120 characters); the baseline
only reads the bytes (no lines, no cleaning, no redaction), run_step_command cuts lines,
strips control sequences, redacts with a Redactor of 50 secrets, keeps a 200-line tail and
calls on_line for every line. Printed: seconds each (best of 3), the ratio, and the longest
the event loop was held while run_step_command read (what a screen redraw would wait).
Usage: uv run python bench/step_command.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path

from ppcockpit.secrets import Redactor
from ppcockpit.step_command import run_step_command

COMMANDS = {
    "seq": "seq {n}",
    "wide lines": "awk 'BEGIN {{ for (i = 0; i < {n}; i++) printf \"%0120d\\n\", i }}'",
}


async def baseline(command: str) -> float:
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    while await process.stdout.read(65536):
        pass
    await process.wait()
    return time.perf_counter() - began


async def stepped(command: str, redact: Redactor) -> tuple[float, float]:
    seen = 0
    longest_hold = 0.0

    def on_line(_line: str) -> None:
        nonlocal seen
        seen += 1

    async def ticker() -> None:
        nonlocal longest_hold
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest_hold = max(longest_hold, now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    began = time.perf_counter()
    result = await run_step_command(command, cwd=Path.cwd(), env=dict(os.environ),
                                    timeout=600, placeholders={}, on_line=on_line,
                                    redact=redact)
    took = time.perf_counter() - began
    ticking.cancel()
    assert result.passed, result.summary
    return took, longest_hold


async def main(lines: int) -> None:
    redact = Redactor(secrets.token_urlsafe(24) for _ in range(50))
    for name, template in COMMANDS.items():
        command = template.format(n=lines)
        base = min([await baseline(command) for _ in range(3)])
        ours, hold = min([await stepped(command, redact) for _ in range(3)])
        print(f"{name:>10}: {lines} lines  baseline {base:.3f}s  run_step_command "
              f"{ours:.3f}s  ratio {ours / base:.1f}x  ({lines / ours / 1000:.0f}k lines/s)"
              f"  loop held at most {hold * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().lines))

"""Probe fan-out: 200 health targets on loopback in one sweep, against the slowest one alone.

A separate process serves 200 stand-in /api/health endpoints, each on its own port, target i
answering after a delay that grows with i (the slowest: --slowest ms). The runner sweeps the
slowest target alone, then all 200 at once with the real HealthProbe; the ratio of the two
wall times is the figure (budget: within 1.3x).
Usage: uv run python bench/fanout.py [--targets 200] [--slowest 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from ppcockpit.config_model import HealthProbeConfig
from ppcockpit.runner import ProbeRunner
from probes.health import HealthProbe

SERVER = """
import asyncio, json, sys
from aiohttp import web

BODY = json.dumps({"success": True, "data": {"status": "ok", "timestamp": None,
    "dependencies": {"supabase": {"status": "ok", "latencyMs": 3, "message": None},
                     "analytics": {"status": "ok"},
                     "aiProviders": {"configuration": {"openai": "configured"},
                                     "selection": None,
                                     "stats": {"openai": {"status": "healthy", "latencyMs": 40,
                                               "successCount": 9, "failureCount": 0,
                                               "degradedCount": 0, "error": None}}}}}})

async def main(count, slowest_ms):
    runners, ports = [], []
    for i in range(count):
        delay = slowest_ms / 1000 * (i + 1) / count
        async def health(request, delay=delay):
            await asyncio.sleep(delay)
            return web.Response(text=BODY, content_type="application/json",
                                headers={"X-Request-ID": "bench"})
        app = web.Application()
        app.router.add_get("/api/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(runner.addresses[0][1])
        runners.append(runner)
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
"""


async def sweep_seconds(ports: list[int]) -> float:
    settings = HealthProbeConfig(interval=30.0, timeout=10.0)
    probes = [HealthProbe(f"http://127.0.0.1:{port}", settings, name=f"health-{i}")
              for i, port in enumerate(ports)]
    runner = ProbeRunner(probes)
    started = time.perf_counter()
    readings = await runner.sweep()
    elapsed = time.perf_counter() - started
    await runner.stop()
    bad = [r for r in readings if r.status.value != "healthy"]
    if bad:
        raise SystemExit(f"{len(bad)} targets not healthy, e.g. {bad[0].summary}")
    return elapsed


async def measure(ports: list[int], runs: int) -> tuple[float, float]:
    await sweep_seconds(ports[-1:])  # warm up imports and the loop
    single = [await sweep_seconds(ports[-1:]) for _ in range(runs)]
    fanned = [await sweep_seconds(ports) for _ in range(runs)]
    return statistics.median(single), statistics.median(fanned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--slowest", type=float, default=200.0, help="ms")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.targets),
                               str(args.slowest)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        single, fanned = asyncio.run(measure(ports, args.runs))
    finally:
        server.kill()
        server.wait()
    ratio = fanned / single
    print(f"slowest target alone : {single * 1000:7.0f} ms (median of {args.runs})")
    print(f"{args.targets} targets, one sweep: {fanned * 1000:7.0f} ms (median of {args.runs})")
    print(f"ratio                : {ratio:7.2f}x  (budget 1.3x: "
          f"{'OK' if ratio <= 1.3 else 'OVER'})")


if __name__ == "__main__":
    main()

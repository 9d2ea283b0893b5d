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


def make_runner(ports: list[int]) -> ProbeRunner:
    settings = HealthProbeConfig(interval="30s", timeout="10s")
    return ProbeRunner([HealthProbe(f"http://127.0.0.1:{port}", settings, name=f"health-{i}")
                        for i, port in enumerate(ports)])


async def sweep_seconds(runner: ProbeRunner) -> float:
    started = time.perf_counter()
    readings = await runner.sweep()
    elapsed = time.perf_counter() - started
    bad = [r for r in readings if r.status.value != "healthy"]
    if bad:
        raise SystemExit(f"{len(bad)} targets not healthy, e.g. {bad[0].summary}")
    return elapsed


async def measure(ports: list[int], runs: int) -> tuple[float, float, float]:
    """(slowest alone, first sweep of all, steady sweep of all), steady ones as medians.

    The cockpit keeps its probes, their clients and keep-alive connections from one sweep
    to the next, so the steady sweep is the figure; the first (cold) one is shown too.
    """
    single, every = make_runner(ports[-1:]), make_runner(ports)
    try:
        await sweep_seconds(single)
        alone = statistics.median([await sweep_seconds(single) for _ in range(runs)])
        cold = await sweep_seconds(every)
        steady = statistics.median([await sweep_seconds(every) for _ in range(runs)])
    finally:
        await single.stop()
        await every.stop()
    return alone, cold, steady


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
        alone, cold, steady = asyncio.run(measure(ports, args.runs))
    finally:
        server.kill()
        server.wait()
    ratio = steady / alone
    print(f"slowest target alone      : {alone * 1000:7.0f} ms (median of {args.runs})")
    print(f"{args.targets} targets, first sweep : {cold * 1000:7.0f} ms "
          f"({cold / alone:.2f}x: clients built, connections opened)")
    print(f"{args.targets} targets, one sweep   : {steady * 1000:7.0f} ms (median of {args.runs})")
    print(f"ratio                     : {ratio:7.2f}x  (budget 1.3x: "
          f"{'OK' if ratio <= 1.3 else 'OVER'})")


if __name__ == "__main__":
    main()

"""Run in a fresh interpreter: the Supabase auth probe against a sign-in that answers with a
gzip bomb, and how much the process's peak resident memory grew during the check.

    python -m tests.support.auth_bomb MEGABYTES   → prints {"grown_kib": ..., "reason": ...}

A fresh process, so the peak (VmHWM) is this check's and no other test's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import zlib

from aiohttp import web

from ppcockpit.config_model import SupabaseEnvironment, SupabaseProbeConfig
from ppcockpit.model import TargetUnavailable
from probes.supabase_auth import SupabaseAuthProbe
from tests.support.http_stub import serve_app


def gzip_of_zeros(megabytes: int) -> bytes:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join([*(squeezer.compress(zeros) for _ in range(megabytes)), squeezer.flush()])


def peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


async def main(megabytes: int) -> dict[str, object]:
    bomb = gzip_of_zeros(megabytes)

    async def token(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_post("/auth/v1/token", token)
    async with serve_app(app) as url:
        env = SupabaseEnvironment(url=url, anon_key="anon-key-planted", test_user_email="a@b.c",
                                  test_user_password="planted-password")
        probe = SupabaseAuthProbe(env, SupabaseProbeConfig(timeout="60s"))
        if hasattr(probe, "prepare"):
            await probe.prepare()
        before = peak_kib()
        try:
            await probe.check()
            reason = "no failure"
        except TargetUnavailable as exc:
            reason = exc.reason
        return {"grown_kib": peak_kib() - before, "reason": reason, "sent": len(bomb)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))

"""The app's use of Redis, simulated against the real redis-server: seeded keys in the app's
style, a fleet of app connections doing persona/retrieval/offline-queue commands, and the
redis-pressure fault (memory climbing past 75%, a client surge)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.traffic import USERS
from ppcockpit.rehearsal.world import World
from ppcockpit.text import one_line

PERSONAS = ("marcus-aurelius", "seneca", "epictetus", "confucius", "laozi",
            "simone-de-beauvoir", "hannah-arendt", "montaigne")
RETRIEVAL_KEYS = 150
BASE_FLEET = 4  # app connections; the fleet breathes between 4 and 6
MAX_OPS_PER_STEP = 300
STALE_PREFIX = "offline-queue:stale:"
STALE_CHUNK = 512 * 1024
MAX_STALE_WRITES_PER_STEP = 32
STEP_TIMEOUT = 3.0
_STALE_PAYLOAD = json.dumps({"type": "reflection.sync", "pending": True}).encode() * (
    STALE_CHUNK // 46)


def _client(url: str, name: str) -> Any:
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url, single_connection_client=True, client_name=name,
                                        socket_timeout=2.0, socket_connect_timeout=2.0)


class RedisLoad:
    def __init__(self, url: str, world: World, seed: int = 7) -> None:
        self.url = url
        self.world = world
        self._rng = random.Random(seed + 3)
        self._admin: Any = None
        self._fleet: list[Any] = []
        self._surge: list[Any] = []
        self._stale_written = 0
        self._failing = False
        self._warned_minute = -1

    async def seed(self) -> None:
        """Keys in the app's style: persona:*, retrieval:*, offline-queue:*."""
        self._admin = _client(self.url, "pp-app-admin")
        pipe = self._admin.pipeline(transaction=False)
        for persona in PERSONAS:
            pipe.hset(f"persona:{persona}", mapping={
                "name": persona.replace("-", " ").title(), "tradition": "stoic",
                "prompt": f"You are {persona}. Answer with citations. " * 8,
                "updated_at": "2026-11-01T09:00:00Z"})
        for n in range(RETRIEVAL_KEYS):
            chunk = {"source": f"letters-{n % 30}", "text": "On the shortness of life. " * 12}
            pipe.set(f"retrieval:{n:05x}", json.dumps(chunk), ex=86400)
        for user in USERS[:20]:
            pipe.rpush(f"offline-queue:{user}",
                       *[json.dumps({"type": "reflection.create", "n": i}) for i in range(3)])
        await pipe.execute()

    async def step(self, now: float, requests: int) -> None:
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self._size_fleet(now)
                await self._commands(requests)
                await self._pressure(now)
        except Exception as exc:  # redis down or slow: the stand-in goes on, and says so
            if not self._failing:
                self.world.log.text(f"[rehearsal] redis load paused: "
                                    f"{one_line(exc, 120) or type(exc).__name__}")
            self._failing = True
            await self._drop(self._fleet + self._surge + [self._admin])
            self._fleet, self._surge, self._admin = [], [], None
            return
        if self._failing:
            self.world.log.text("[rehearsal] redis load resumed")
            self._failing = False

    async def aclose(self) -> None:
        await self._drop(self._fleet + self._surge + [self._admin])
        self._fleet, self._surge, self._admin = [], [], None

    # --- connections ---------------------------------------------------------------------

    async def _size_fleet(self, now: float) -> None:
        if self._admin is None:
            self._admin = _client(self.url, "pp-app-admin")
        wanted = BASE_FLEET + int(now // 120) % 3
        surge = sc.surge_clients(self.world.since(sc.REDIS_PRESSURE), now)
        self._fleet = await self._resize(self._fleet, wanted, "pp-app")
        self._surge = await self._resize(self._surge, surge, "pp-worker-surge")

    async def _resize(self, clients: list[Any], wanted: int, prefix: str) -> list[Any]:
        if len(clients) > wanted:
            await self._drop(clients[wanted:])
            return clients[:wanted]
        fresh = [_client(self.url, f"{prefix}-{n}") for n in range(len(clients), wanted)]
        await asyncio.gather(*(client.ping() for client in fresh))
        return clients + fresh

    @staticmethod
    async def _drop(clients: list[Any]) -> None:
        for client in clients:
            if client is not None:
                with contextlib.suppress(Exception):  # a dead connection has nothing to close
                    await client.aclose()

    # --- the app's commands ----------------------------------------------------------------

    async def _commands(self, requests: int) -> None:
        if not requests or not self._fleet:
            return
        rng = self._rng
        pipes = [client.pipeline(transaction=False) for client in self._fleet]
        for n in range(min(requests, MAX_OPS_PER_STEP // 3)):
            pipe = pipes[n % len(pipes)]
            pipe.hget(f"persona:{rng.choice(PERSONAS)}", "prompt")
            key = f"retrieval:{rng.randrange(RETRIEVAL_KEYS * 2):05x}"
            pipe.get(key)
            if rng.random() < 0.3:
                pipe.set(key, json.dumps({"source": "cache-fill", "n": n}), ex=3600)
            if rng.random() < 0.1:
                queue = f"offline-queue:{rng.choice(USERS)}"
                pipe.rpush(queue, json.dumps({"type": "reflection.create"}))
                pipe.ltrim(queue, -50, -1)
        await asyncio.gather(*(pipe.execute() for pipe in pipes if len(pipe)))

    # --- redis-pressure ----------------------------------------------------------------------

    async def _pressure(self, now: float) -> None:
        target = sc.memory_target(self.world.since(sc.REDIS_PRESSURE), now)
        if target is None:
            if self._stale_written:
                await self._clear_stale()
            return
        info = await self._admin.info("memory")
        used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
        if not limit:
            return
        # The queues vanishing means someone drained them (the runbook's remedy): it worked.
        if self._stale_written and not await self._admin.exists(f"{STALE_PREFIX}0"):
            self.world.faults.pop(sc.REDIS_PRESSURE, None)
            self.world.log.json("info", "Offline queues drained", now,
                                metadata={"usedMemory": used, "maxmemory": limit})
            self._stale_written = 0
            return
        writes = 0
        while used < target * limit and writes < MAX_STALE_WRITES_PER_STEP:
            await self._admin.rpush(f"{STALE_PREFIX}{self._stale_written}", _STALE_PAYLOAD)
            self._stale_written += 1
            used += STALE_CHUNK
            writes += 1
        minute = int(now // 60)
        if used > 0.75 * limit and minute != self._warned_minute:
            self._warned_minute = minute
            self.world.log.json("warn", "Redis memory high", now, route="/api/sync",
                                method="POST", metadata={"usedMemory": used,
                                                         "maxmemory": limit,
                                                         "ratio": round(used / limit, 3)})

    async def _clear_stale(self) -> None:
        async for key in self._admin.scan_iter(match=f"{STALE_PREFIX}*", count=500):
            await self._admin.unlink(key)
        self._stale_written = 0

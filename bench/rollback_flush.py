"""The rollback's Redis flush (count, then SCAN + UNLINK in batches, on its own bounded,
named connection) against a bare redis-py scan_iter + unlink loop, same server, same keys.

A real redis-server holds N `persona:*` keys among N others. Printed for each batch size:
seconds to count and to flush (best of 3, keys re-seeded each time), the ratio to the
baseline's flush (ours ends with a verifying recount, the bare loop does not), and the
longest the event loop was held during the flush (what a screen redraw would wait).
Usage: uv run python bench/rollback_flush.py [--keys 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import redis
import redis.asyncio

from ppcockpit.redis_server import RedisServer
from ppcockpit.rollback_redis import RedisKeys

PATTERN = "persona:*"


def seed(url: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        pipe.set(f"persona:{n}", "p")
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.close()


def seed_others(url: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    client.mset({f"retrieval:{n}": "r" for n in range(count)})
    client.close()


async def baseline(url: str, batch: int) -> float:
    client = redis.asyncio.Redis.from_url(url)
    began = time.perf_counter()
    keys: list[bytes] = []
    async for key in client.scan_iter(match=PATTERN, count=batch):
        keys.append(key)
        if len(keys) >= batch:
            await client.unlink(*keys)
            keys = []
    if keys:
        await client.unlink(*keys)
    took = time.perf_counter() - began
    await client.aclose()
    return took


async def engine(url: str, batch: int) -> tuple[float, float, float]:
    keys = RedisKeys(url)
    held = 0.0

    async def ticker() -> None:
        nonlocal held
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            held = max(held, now - last)
            last = now

    began = time.perf_counter()
    await keys.count(PATTERN, batch)
    counted = time.perf_counter() - began
    ticking = asyncio.create_task(ticker())
    began = time.perf_counter()
    result = await keys.unlink_matching(PATTERN, batch, lambda _: None)
    flushed = time.perf_counter() - began
    ticking.cancel()
    assert result.remaining.keys == 0
    return counted, flushed, held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    server = RedisServer.start(maxmemory="512mb")
    try:
        seed_others(server.url, args.keys)
        print(f"{args.keys:,} persona:* keys among {args.keys:,} others")
        for batch in (100, 500, 2000):
            base = ours = count = float("inf")
            held = 0.0
            for _ in range(3):
                seed(server.url, args.keys)
                base = min(base, asyncio.run(baseline(server.url, batch)))
                seed(server.url, args.keys)
                c, f, h = asyncio.run(engine(server.url, batch))
                count, ours, held = min(count, c), min(ours, f), max(held, h)
            print(f"batch {batch:>5}: count {count:.2f}s · flush {ours:.2f}s vs bare loop "
                  f"{base:.2f}s (×{ours / base:.2f}) · longest loop hold {held * 1000:.1f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""The Redis probe against a real redis-server on 127.0.0.1 (and real TLS through a proxy)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from ppcockpit.config_model import RedisProbeConfig
from ppcockpit.model import Failure, ProbeMisconfigured, Status, TargetUnavailable
from ppcockpit.probe import Probe
from ppcockpit.redis_server import RedisServer, free_port
from probes.redis import RedisProbe
from tests.support.tls_proxy import TlsProxy

SETTINGS = RedisProbeConfig(interval="5s", timeout="2s")
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client of our own, to set the server up and look at it from outside."""
    client = aioredis.Redis(port=redis_server.port, decode_responses=True,
                            single_connection_client=True, protocol=2)
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def probe(redis_server: RedisServer) -> AsyncIterator[RedisProbe]:
    redis_probe = RedisProbe(redis_server.url, SETTINGS)
    yield redis_probe
    await redis_probe.aclose()


async def cockpit_connections(admin: aioredis.Redis, *, settles_to: int | None = None,
                               within: float = 2.0) -> int:
    """How many `ppcockpit` connections the server lists.

    With `settles_to`, wait (bounded) for that count: a closed socket leaves CLIENT LIST a
    moment after the close (the server notices asynchronously), which no test can await.
    """
    deadline = time.monotonic() + within
    while True:
        count = sum(1 for c in await admin.client_list() if c.get("name") == "ppcockpit")
        if settles_to is None or count == settles_to or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.02)


async def fill_memory(admin: aioredis.Redis, share: float) -> float:
    """Add keys until used_memory reaches `share` of maxmemory; returns the share reached."""
    maxmemory = int((await admin.info("memory"))["maxmemory"])
    used = int((await admin.info("memory"))["used_memory"])
    serial = 0
    while used < share * maxmemory:
        batch = max(1, int((share * maxmemory - used) // 2048))  # ~2 KiB per 1 KiB value
        async with admin.pipeline(transaction=False) as pipe:
            for _ in range(batch):
                pipe.set(f"fill:{serial}", "x" * 1024)
                serial += 1
            await pipe.execute()
        used = int((await admin.info("memory"))["used_memory"])
    return used / maxmemory


async def reject_one_connection(port: int, admin: aioredis.Redis) -> None:
    """Make the server turn one client away (maxclients reached), then lift the limit."""
    connected = int((await admin.info("clients"))["connected_clients"])
    await admin.config_set("maxclients", connected)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # Redis refuses right after accept, before reading anything from the client.
        assert await reader.readline() == b"-ERR max number of clients reached\r\n"
    finally:
        writer.close()
        await writer.wait_closed()
        await admin.config_set("maxclients", 10000)


async def refused_reason(check: Callable[[], Awaitable[object]]) -> str:
    with pytest.raises(TargetUnavailable) as caught:
        await check()
    return caught.value.reason


async def test_healthy_reading_with_every_contract_metric(probe: RedisProbe,
                                                          admin: aioredis.Redis) -> None:
    assert isinstance(probe, Probe)
    reading = await probe.check()
    assert reading.status is Status.HEALTHY
    assert reading.failure is Failure.NONE
    assert reading.probe == "redis"
    assert reading.target == probe.target
    assert {"used_memory", "maxmemory", "memory_ratio", "connected_clients", "blocked_clients",
            "ops_per_sec", "used_memory_rss", "mem_fragmentation_ratio", "total_system_memory",
            "rejected_connections_delta", "evicted_keys_delta"} <= set(reading.metrics)
    assert reading.metrics["maxmemory"] == 16 * 1024 * 1024
    assert reading.metrics["rejected_connections_delta"] == 0
    assert reading.details["measured_against"] == "maxmemory"
    assert reading.details["maxmemory_human"] == "16 MiB"
    assert reading.details["redis_version"].count(".") == 2
    assert reading.details["role"] == "master"
    assert reading.summary.startswith("memory ") and " of 16 MiB · 1 client · " in reading.summary
    assert reading.started_at == 0 and reading.latency_ms is None  # the runner's job


async def test_connected_clients_excludes_the_cockpit(redis_server: RedisServer,
                                                      probe: RedisProbe,
                                                      admin: aioredis.Redis) -> None:
    assert (await probe.check()).metrics["connected_clients"] == 1  # just `admin`
    extras = [aioredis.Redis(port=redis_server.port, single_connection_client=True, protocol=2)
              for _ in range(2)]
    try:
        await asyncio.gather(*(extra.ping() for extra in extras))
        assert (await probe.check()).metrics["connected_clients"] == 3
    finally:
        await asyncio.gather(*(extra.aclose() for extra in extras))


async def test_exactly_one_named_connection_over_many_checks(probe: RedisProbe,
                                                             admin: aioredis.Redis) -> None:
    for _ in range(5):
        await probe.check()
    assert await cockpit_connections(admin) == 1
    await probe.aclose()
    assert await cockpit_connections(admin, settles_to=0) == 0
    await probe.check()  # usable again after aclose, still one connection
    assert await cockpit_connections(admin) == 1


async def test_memory_over_warn_is_degraded(redis_server: RedisServer,
                                            admin: aioredis.Redis) -> None:
    await admin.config_set("maxmemory", "2mb")
    await admin.config_set("maxmemory-policy", "noeviction")
    reached = await fill_memory(admin, 0.80)
    settings = RedisProbeConfig(memory_warn=0.75, memory_crit=0.99)
    redis_probe = RedisProbe(redis_server.url, settings)
    try:
        reading = await redis_probe.check()
    finally:
        await redis_probe.aclose()
    assert reached < 0.99
    assert reading.status is Status.DEGRADED
    assert reading.failure is Failure.NONE
    assert "of maxmemory (warning ≥ 75%)" in reading.summary
    assert reading.label == "memory ≥ 75%"  # what is wrong, where the status word was
    assert reading.metrics["memory_ratio"] >= 0.75


async def test_memory_over_crit_is_unavailable_but_not_a_failure(
        probe: RedisProbe, admin: aioredis.Redis) -> None:
    await admin.config_set("maxmemory", "2mb")
    await admin.config_set("maxmemory-policy", "noeviction")
    await fill_memory(admin, 0.93)
    reading = await probe.check()
    assert reading.status is Status.UNAVAILABLE
    assert reading.failure is Failure.NONE  # the target answered; a threshold was breached
    assert reading.summary.startswith("memory 9")
    assert "% of maxmemory (critical ≥ 90%) · " in reading.summary
    assert reading.label == "memory ≥ 90%"


async def test_no_maxmemory_is_measured_against_system_memory(probe: RedisProbe,
                                                              admin: aioredis.Redis) -> None:
    await admin.config_set("maxmemory", 0)
    reading = await probe.check()
    assert reading.status is Status.HEALTHY
    assert "(no maxmemory set)" in reading.summary
    assert "system memory" in reading.summary
    assert reading.details["measured_against"] == "total_system_memory"
    assert reading.metrics["maxmemory"] == 0
    total = reading.metrics["total_system_memory"]
    assert total and total > 0
    assert reading.metrics["memory_ratio"] == pytest.approx(
        reading.metrics["used_memory"] / total, abs=1e-4)


async def test_evicted_keys_delta_counts_since_the_first_reading(
        probe: RedisProbe, admin: aioredis.Redis) -> None:
    before = int((await admin.info("stats"))["evicted_keys"])
    assert (await probe.check()).metrics["evicted_keys_delta"] == 0
    await admin.config_set("maxmemory", "2mb")  # the fixture's policy is allkeys-lru
    async with admin.pipeline(transaction=False) as pipe:
        for serial in range(3000):
            pipe.set(f"evict:{serial}", "x" * 1024)
        await pipe.execute()
    # Redis may evict a few more keys before any later command: bracket the probe's read.
    at_least = int((await admin.info("stats"))["evicted_keys"]) - before
    delta = (await probe.check()).metrics["evicted_keys_delta"]
    at_most = int((await admin.info("stats"))["evicted_keys"]) - before
    assert 0 < at_least <= delta <= at_most


async def test_rejected_connections_delta(redis_server: RedisServer, probe: RedisProbe,
                                          admin: aioredis.Redis) -> None:
    assert (await probe.check()).metrics["rejected_connections_delta"] == 0
    await reject_one_connection(redis_server.port, admin)
    reading = await probe.check()
    assert reading.metrics["rejected_connections_delta"] == 1
    assert reading.status is Status.HEALTHY


async def test_killed_server_is_unavailable_and_the_same_probe_recovers(
        redis_server: RedisServer, probe: RedisProbe, admin: aioredis.Redis) -> None:
    await reject_one_connection(redis_server.port, admin)
    await probe.check()  # baseline: rejected_connections is 1 already
    await reject_one_connection(redis_server.port, admin)
    assert (await probe.check()).metrics["rejected_connections_delta"] == 1

    redis_server.kill()
    first = await refused_reason(probe.check)  # the open connection breaks
    assert first  # wording depends on how the socket died; it is one safe line
    assert "\n" not in first
    second = await refused_reason(probe.check)
    assert second == f"connection refused by 127.0.0.1:{redis_server.port}"

    await asyncio.to_thread(redis_server.restart)
    reading = await probe.check()
    assert reading.status is Status.HEALTHY
    # the counter restarted at 0: the increase so far is kept, never negative
    assert reading.metrics["rejected_connections_delta"] == 1
    await probe.check()
    fresh_admin = aioredis.Redis(port=redis_server.port, decode_responses=True, protocol=2,
                                 single_connection_client=True)
    try:
        assert await cockpit_connections(fresh_admin) == 1
    finally:
        await fresh_admin.aclose()


async def test_a_check_cancelled_mid_reply_is_not_reused(probe: RedisProbe,
                                                          admin: aioredis.Redis) -> None:
    """The runner's wait_for may cancel a check halfway; the next one starts clean."""
    await probe.check()
    [before] = [c["id"] for c in await admin.client_list() if c.get("name") == "ppcockpit"]
    await admin.execute_command("CLIENT", "PAUSE", 300)  # the probe's INFO now hangs
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(probe.check(), 0.05)
    reading = await probe.check()  # answered once the pause ends
    assert reading.status is Status.HEALTHY
    assert await cockpit_connections(admin, settles_to=1) == 1  # the cancelled one is gone
    named = [c["id"] for c in await admin.client_list() if c.get("name") == "ppcockpit"]
    assert named != [before]


async def test_refused_from_the_start_names_host_and_port() -> None:
    port = free_port()
    redis_probe = RedisProbe(f"redis://127.0.0.1:{port}/0", SETTINGS)
    try:
        assert await refused_reason(redis_probe.check) == f"connection refused by 127.0.0.1:{port}"
    finally:
        await redis_probe.aclose()


@pytest.fixture
def password_server() -> AsyncIterator[RedisServer]:
    server = RedisServer.start(password=PASSWORD)
    try:
        yield server
    finally:
        server.stop()


async def test_password_in_url_works_and_is_hidden(password_server: RedisServer) -> None:
    redis_probe = RedisProbe(password_server.url, SETTINGS)
    try:
        reading = await redis_probe.check()
    finally:
        await redis_probe.aclose()
    assert reading.status is Status.HEALTHY
    assert redis_probe.target == f"redis://:***@127.0.0.1:{password_server.port}/0"
    assert PASSWORD not in repr(reading)


async def test_wrong_password_is_an_authentication_failure(password_server: RedisServer) -> None:
    wrong = "not-the-" + PASSWORD
    redis_probe = RedisProbe(f"redis://:{wrong}@127.0.0.1:{password_server.port}/0", SETTINGS)
    try:
        with pytest.raises(TargetUnavailable) as caught:
            await redis_probe.check()
    finally:
        await redis_probe.aclose()
    assert caught.value.reason == "authentication failed: wrong password"
    assert wrong not in str(caught.value) and wrong not in redis_probe.target


async def test_missing_password_says_one_is_required(password_server: RedisServer) -> None:
    redis_probe = RedisProbe(f"redis://127.0.0.1:{password_server.port}/0", SETTINGS)
    try:
        reason = await refused_reason(redis_probe.check)
    finally:
        await redis_probe.aclose()
    assert reason == f"authentication failed: password required by 127.0.0.1:{password_server.port}"


async def test_rediss_through_a_tls_proxy_with_the_right_ca(redis_server: RedisServer,
                                                            admin: aioredis.Redis) -> None:
    async with TlsProxy(redis_server.port) as proxy:
        redis_probe = RedisProbe(f"rediss://127.0.0.1:{proxy.port}/0", SETTINGS,
                                 ssl_ca_file=proxy.ca_file)
        try:
            for _ in range(3):
                reading = await redis_probe.check()
                assert reading.status is Status.HEALTHY
            assert await cockpit_connections(admin) == 1
        finally:
            await redis_probe.aclose()


async def test_rediss_with_an_untrusted_ca_is_a_tls_error(redis_server: RedisServer) -> None:
    async with TlsProxy(redis_server.port) as proxy, TlsProxy(redis_server.port) as stranger:
        redis_probe = RedisProbe(f"rediss://127.0.0.1:{proxy.port}/0", SETTINGS,
                                 ssl_ca_file=stranger.ca_file)
        try:
            reason = await refused_reason(redis_probe.check)
        finally:
            await redis_probe.aclose()
    assert reason.startswith("TLS error: certificate verify failed")


async def test_missing_ca_file_is_a_probe_misconfiguration(tmp_path) -> None:
    missing = tmp_path / "nope.pem"
    redis_probe = RedisProbe(f"rediss://127.0.0.1:{free_port()}/0", SETTINGS,
                             ssl_ca_file=str(missing))
    try:
        with pytest.raises(ProbeMisconfigured,
                           match=f"the Redis TLS CA file {missing} does not exist"):
            await redis_probe.check()
    finally:
        await redis_probe.aclose()


async def test_wrong_scheme_is_a_probe_misconfiguration() -> None:
    redis_probe = RedisProbe(f"http://:{PASSWORD}@127.0.0.1:6379/0", SETTINGS)
    with pytest.raises(ProbeMisconfigured) as caught:
        await redis_probe.check()
    assert PASSWORD not in str(caught.value)
    await redis_probe.aclose()


async def serve(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                  Awaitable[None]]) -> asyncio.Server:
    return await asyncio.start_server(handler, "127.0.0.1", 0)


async def read_command(reader: asyncio.StreamReader) -> list[str]:
    """One RESP array of bulk strings, as redis-py sends commands."""
    count = int((await reader.readline())[1:])
    parts = []
    for _ in range(count):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2].decode())
    return parts


def info_stand_in(body: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[None]]:
    """A server that says OK to the connection handshake and answers INFO with `body`."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                command = await read_command(reader)
                if command[0].upper() == "INFO":
                    data = body.encode()
                    writer.write(b"$%d\r\n%s\r\n" % (len(data), data))
                else:
                    writer.write(b"+OK\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            writer.close()
    return handle


async def test_info_without_used_memory_is_an_unexpected_reply() -> None:
    server = await serve(info_stand_in("# Server\r\nredis_version:7.0.0\x1b[31m\r\n"))
    port = server.sockets[0].getsockname()[1]
    redis_probe = RedisProbe(f"redis://127.0.0.1:{port}/0", SETTINGS)
    try:
        reason = await refused_reason(redis_probe.check)
    finally:
        await redis_probe.aclose()
        server.close()
    assert reason == "unexpected INFO reply: no used_memory"


async def test_a_server_that_never_answers_times_out() -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # until the probe hangs up
        writer.close()

    server = await serve(silent)
    port = server.sockets[0].getsockname()[1]
    redis_probe = RedisProbe(f"redis://127.0.0.1:{port}/0",
                             RedisProbeConfig(timeout="200ms"))
    try:
        reason = await refused_reason(redis_probe.check)
    finally:
        await redis_probe.aclose()
        server.close()
    assert accepted.is_set()
    assert reason == f"timed out talking to 127.0.0.1:{port}"


# --- a server that is not Redis is the target's failure, and costs a bounded read ----------

def replying(reply: bytes, *, after_handshake: bool = True,
             then_stream: bytes = b"") -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                   Awaitable[None]]:
    """A server that answers the handshake (CLIENT SETNAME) with +OK when `after_handshake`,
    then answers the next command with `reply` (and streams `then_stream` forever)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if after_handshake:
                await read_command(reader)
                writer.write(b"+OK\r\n")
            await read_command(reader)
            writer.write(reply)
            await writer.drain()
            while then_stream:
                writer.write(then_stream)
                await writer.drain()
            await reader.read()
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
    return handle


async def reading_from(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[None]]) -> tuple[object, int]:
    from ppcockpit.runner import ProbeRunner

    server = await serve(handler)
    port = server.sockets[0].getsockname()[1]
    redis_probe = RedisProbe(f"redis://127.0.0.1:{port}/0", SETTINGS)
    try:
        return await ProbeRunner([redis_probe]).run_once(redis_probe), port
    finally:
        await redis_probe.aclose()
        server.close()


async def test_an_http_server_on_the_redis_port_answered_badly() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    reading, port = await reading_from(http)
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary.startswith(
        f"127.0.0.1:{port} answered badly: not a Redis reply (Protocol Error: ")


async def test_a_server_that_closes_at_once_is_the_targets_failure() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    reading, port = await reading_from(hang_up)
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary.startswith(f"cannot talk to 127.0.0.1:{port}: ")


@pytest.mark.parametrize(("reply", "stream", "says"), [
    (b"$99999999999\r\n", b"x" * 65536, "reply larger than 1 MiB"),  # announced 100 GB
    (b"*99999999999\r\n", b"+a\r\n" * 4096, "array of 99999999999 elements"),
    (b"*1000\r\n", b"$1500\r\n" + b"x" * 1500 + b"\r\n", "reply larger than 1 MiB"),
    (b"*1\r\n" * 50_000, b"", "not a Redis reply"),  # nested 50,000 deep
    (b"$4\r\n\xff\xfe\xfd\xfc\r\n", b"", "not a Redis reply"),  # not UTF-8
    (b"$-7\r\n", b"", "not a Redis reply"),
])
async def test_a_hostile_reply_costs_a_bounded_read(reply: bytes, stream: bytes,
                                                    says: str) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        reading, port = await reading_from(replying(reply, then_stream=stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reading.status is Status.UNAVAILABLE and reading.failure is Failure.TARGET
    assert reading.summary.startswith(f"127.0.0.1:{port} answered badly: "), reading.summary
    assert says in reading.summary
    assert peak < 16 * 1024 * 1024

"""Log flood: 50,000 app log lines/s for 10 s into the running cockpit (its log tail fed by a
`command` source), on a real pseudo-terminal, against the same cockpit idle in the same run.

Three processes: this one (the "terminal": it owns the pty, presses keys, reads the screen
and samples CPU and memory), the app (the panel and a LogTail running a `command` source),
and the writer the command source runs (it prints the flood to its stdout, paced in 10 ms
ticks, then keeps the pipe open so the source never restarts).

Key-to-screen latency: a level key (1, 2, 3 in turn) is written to the pty; the time until
the app's output shows the new filter ("errors ·", "warn and up ·", "info and up ·") is one
sample. Budget: p99 under 100 ms during the flood; CPU and memory flat once the buffer is
full; received == written (no line lost from the counters).
Usage: uv run python bench/log_flood.py [--rate 50000] [--seconds 10] [--idle 3]
(A tuning aid, not part of the measurement: LOG_FLOOD_PROFILE=FILE writes the app's cProfile
stats there.)
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import fcntl
import itertools
import json
import os
import pty
import random
import select
import shlex
import signal
import statistics
import struct
import sys
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
COLUMNS, ROWS = 160, 48
EFFECTS = (("1", "errors · "), ("2", "warn and up · "), ("3", "info and up · "))


# --- the writer ---------------------------------------------------------------------------


def writer(rate: int, seconds: float, delay: float, done: Path) -> None:
    pool = []
    for n in range(1000):
        level = "error" if n % 10 == 3 else ("warn" if n % 10 == 7 else "info")
        record = {"level": level, "message": "Coach reply completed",
                  "timestamp": f"2026-11-28T10:00:{n % 60:02d}.{n:03d}Z",
                  "requestId": f"{n:08x}-4b1d-4c2a-9e3f-{n * 7919:012d}", "route": "/api/chat",
                  "method": "POST", "userId": f"u_{n}",
                  "metadata": {"providerId": ("anthropic", "openai", "together")[n % 3],
                               "latencyMs": 200 + n, "promptTokens": 512,
                               "completionTokens": 230}}
        pool.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    per_tick = rate // 100
    chunk = b"".join(pool[i % len(pool)] for i in range(per_tick))
    out = sys.stdout.buffer
    time.sleep(delay)
    start = time.monotonic()
    ticks = int(seconds * 100)
    for tick in range(ticks):
        out.write(chunk)
        out.flush()  # blocks while the app is behind: the pipe pushes back, nothing is lost
        pause = start + (tick + 1) / 100 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.monotonic() - start
    done.write_text(json.dumps({"written": ticks * per_tick, "seconds": elapsed}))
    parent = os.getppid()
    while os.getppid() == parent:  # keep the pipe open (the source must not see an end and
        time.sleep(0.5)  # restart) for as long as the app lives


# --- the app ------------------------------------------------------------------------------


def app(stats: Path, writer_command: str) -> None:
    """The cockpit itself (`ppcockpit` on a config whose log source runs the writer), its
    probes pointed at a closed port so that they fail fast and stay quiet."""
    import tempfile

    import tomli_w

    from ppcockpit.app import make_app
    from ppcockpit.cli import GlobalFlags, build_session
    from ppcockpit.config import load_config

    workdir = Path(tempfile.mkdtemp(prefix="ppcockpit-flood-"))
    config_path = workdir / "cockpit.toml"
    config_path.write_text(tomli_w.dumps({
        "cockpit": {"journal_dir": "journal"},
        "environments": {"bench": {
            "base_url": "http://127.0.0.1:9", "redis_url": "redis://127.0.0.1:9/0",
            "logs": {"source": "command", "run": writer_command, "max_lines": 10_000}}}}))
    config = load_config(config_path)
    assembled = build_session(config, GlobalFlags())
    config.redactor.add(f"sk-live-secret-{n:04d}" for n in range(15))
    cockpit = make_app(config, session=assembled.session, checklist=assembled.checklist)
    tail = assembled.session.context.log_tail
    assert tail is not None

    def dump() -> None:
        buffer = tail.buffer
        stats.write_text(json.dumps({
            "received": buffer.received, "dropped": buffer.dropped,
            "in_buffer": len(buffer), "writer_pid": tail.source.pid,
            "state": buffer.state.phase}))

    started = cockpit._after_first_frame

    def after_first_frame() -> None:  # the cockpit's own start (it freezes the GC there)
        started()
        cockpit.set_interval(0.25, dump)

    cockpit._after_first_frame = after_first_frame  # type: ignore[method-assign]
    if os.environ.get("LOG_FLOOD_PROFILE"):  # where the app's time goes, for tuning
        import cProfile

        cProfile.runctx("cockpit.run()", globals(), locals(), os.environ["LOG_FLOOD_PROFILE"])
    else:
        cockpit.run()
    dump()


# --- the terminal -------------------------------------------------------------------------


class Terminal:
    def __init__(self, argv: list[str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the app, on the pty's other side, 160x48
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
            os.execvpe(argv[0], argv, {**os.environ, "TERM": "xterm-256color",
                                       "COLORTERM": "truecolor"})
        self.pid, self.fd = pid, fd
        self.tail = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("ignore")  # "·" may straddle

    def read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            return ""
        text = self._decoder.decode(data)
        self.tail = (self.tail + text)[-8192:]
        return text

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.read(max(0.0, end - time.monotonic()))

    def wait_for(self, needle: str, timeout: float) -> float | None:
        """Seconds until `needle` shows in the output (None: not within `timeout`)."""
        start = time.monotonic()
        seen = ""
        while (left := start + timeout - time.monotonic()) > 0:
            seen = (seen + self.read(left))[-(len(needle) + 65536):]
            if needle in seen:
                return time.monotonic() - start
        return None

    def press(self, key: str, effect: str) -> float | None:
        while self.read(0.0):  # everything the app wrote before the key: no stale match
            pass
        start = time.monotonic()
        os.write(self.fd, key.encode())
        seen = ""
        while (left := start + 2.0 - time.monotonic()) > 0:
            seen = (seen + self.read(left))[-(len(effect) + 65536):]
            if effect in seen:
                return time.monotonic() - start
        return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


_PRESSES = itertools.count()  # one cycle for the whole run: a key never repeats the last


def measure_keys(term: Terminal, seconds: float, samples: list[float], missed: list[str]
                 ) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        key, effect = EFFECTS[next(_PRESSES) % len(EFFECTS)]
        latency = term.press(key, effect)
        if latency is None:
            missed.append(key)
        else:
            samples.append(latency)
        term.drain(random.uniform(0.02, 0.06))  # off the panel's 100 ms batch rhythm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--role", choices=("terminal", "app", "writer"), default="terminal")
    parser.add_argument("--stats", type=Path)
    parser.add_argument("--done", type=Path)
    parser.add_argument("--writer-command", default="")
    args = parser.parse_args()
    if args.role == "writer":
        writer(args.rate, args.seconds, args.idle, args.done)
        return
    if args.role == "app":
        app(args.stats, args.writer_command)
        return

    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"log-flood-{os.getpid()}"
    work.mkdir(exist_ok=True)
    stats, done = work / "stats.json", work / "done.json"
    writer_command = shlex.join([sys.executable, str(HERE), "--role", "writer",
                                 "--rate", str(args.rate), "--seconds", str(args.seconds),
                                 "--idle", str(args.idle), "--done", str(done)])
    term = Terminal([sys.executable, str(HERE), "--role", "app", "--stats", str(stats),
                     "--writer-command", writer_command])
    try:
        if term.wait_for("following", 30) is None:
            raise SystemExit(f"the app did not draw its first frame: {term.tail[-500:]!r}")
        started = time.monotonic()
        idle_samples: list[float] = []
        missed: list[str] = []
        measure_keys(term, max(0.5, args.idle - 1.0), idle_samples, missed)
        while time.monotonic() < started + args.idle:
            term.drain(0.05)
        flood_samples: list[float] = []
        timeline = []
        clk = time.monotonic()
        last_cpu = cpu_seconds(term.pid)
        end = time.monotonic() + args.seconds + 1.0
        writer_pid = None
        while time.monotonic() < end:
            measure_keys(term, 1.0, flood_samples, missed)
            now, cpu = time.monotonic(), cpu_seconds(term.pid)
            state = json.loads(stats.read_text()) if stats.exists() else {}
            writer_pid = state.get("writer_pid") or writer_pid
            timeline.append((now - started, (cpu - last_cpu) / (now - clk), rss_mb(term.pid),
                             state.get("received", 0), state.get("in_buffer", 0)))
            clk, last_cpu = now, cpu
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            term.drain(0.1)
        written = json.loads(done.read_text()) if done.exists() else {"written": 0,
                                                                        "seconds": 0}
        while time.monotonic() < deadline:  # the app drains what is still in the pipe
            term.drain(0.1)
            if json.loads(stats.read_text()).get("received") == written["written"]:
                break
        writer_cpu = cpu_seconds(writer_pid) if writer_pid else float("nan")
        os.write(term.fd, b"\x11")  # ctrl+q
        term.drain(1.0)
        final = json.loads(stats.read_text())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(term.pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(term.pid, 0)
    report(args, idle_samples, flood_samples, missed, timeline, written, final, writer_cpu)


def report(args: argparse.Namespace, idle: list[float], flood: list[float], missed: list[str],
           timeline: list[tuple[float, float, float, int, int]], written: dict[str, float],
           final: dict[str, int], writer_cpu: float) -> None:
    rate = written["written"] / written["seconds"] if written["seconds"] else 0
    print(f"flood: {written['written']:,} lines written in {written['seconds']:.1f} s "
          f"({rate:,.0f} lines/s achieved, {args.rate:,}/s asked); writer CPU "
          f"{writer_cpu:.1f} s")
    print(f"{'t (s)':>6} {'app CPU':>8} {'RSS MB':>7} {'received':>10} {'in buffer':>9}")
    for t, cpu, rss, received, in_buffer in timeline:
        print(f"{t:6.1f} {cpu * 100:7.0f}% {rss:7.1f} {received:10,} {in_buffer:9,}")
    for name, samples in (("idle", idle), ("flood", flood)):
        if samples:
            print(f"key-to-screen, {name:5}: {len(samples):3} keys, p50 "
                  f"{statistics.median(samples) * 1000:6.1f} ms, p99 "
                  f"{percentile(samples, 0.99) * 1000:6.1f} ms, max {max(samples) * 1000:6.1f} ms")
    if idle and flood:
        print(f"flood p99 / idle p99: {percentile(flood, 0.99) / percentile(idle, 0.99):.1f}x")
    if missed:
        print(f"keys whose effect never showed within 2 s: {len(missed)}")
    lost = written["written"] - final.get("received", 0)
    print(f"counters: written {written['written']:,}, received {final.get('received', 0):,}, "
          f"dropped from the buffer {final.get('dropped', 0):,}, in buffer "
          f"{final.get('in_buffer', 0):,}: {'no line lost' if lost == 0 else f'{lost:,} LOST'}")
    p99 = percentile(flood, 0.99) * 1000 if flood else float("inf")
    print(f"budget: p99 under 100 ms during the flood: {'OK' if p99 < 100 else 'OVER'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

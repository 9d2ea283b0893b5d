"""Log line parsing: the app's JSON lines parsed into the log buffer, against plain
`json.loads` of the same lines, measured in the same run (best of --runs, interleaved).

The parse includes everything the log tail does per line: UTF-8 decoding, control-sequence
check, redaction with a Redactor holding 15 secrets, JSON decoding and type checks, the
LogLine, and the bounded buffer with its counters. Budget: at least 100,000 lines/s.
Usage: uv run python bench/log_parse.py [--lines 200000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import time

from ppcockpit.logs import LogBuffer
from ppcockpit.secrets import Redactor
from probes import log_parse
from probes.log_parse import LineParser

BATCH = 500  # lines per source batch, as a 64 KiB pipe read delivers them


def app_lines(count: int) -> list[bytes]:
    """The rehearsal's mix: mostly completed chat replies, some failures with an error
    object and a stack, a few provider changes and plain (non-JSON) lines."""
    lines = []
    for n in range(count):
        rid = f"{n:08x}-4b1d-4c2a-9e3f-{n * 7919 % 10**12:012d}"
        kind = n % 20
        if kind == 19:
            lines.append(b"    at async POST (/var/task/.next/server/app/api/chat/route.js:1:4821)")
            continue
        record: dict[str, object] = {
            "level": "info", "message": "Coach reply completed",
            "timestamp": f"2026-11-28T10:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z",
            "requestId": rid, "route": "/api/chat", "method": "POST", "userId": f"u_{n % 977}",
            "metadata": {"providerId": ("anthropic", "openai", "together")[n % 3],
                         "latencyMs": 200 + n % 900, "promptTokens": 512 + n % 100,
                         "completionTokens": 230 + n % 50}}
        if kind in (3, 11):
            record.update(level="error", message="Provider request failed",
                          error={"name": "ProviderError", "message": "rate limited",
                                 "stack": "ProviderError: rate limited\n    at POST (route.js)"})
        elif kind == 7:
            record.update(level="warn", message="Provider health degraded", route="/api/health",
                          method="GET")
        lines.append(json.dumps(record, separators=(",", ":")).encode())
    return lines


def rate_json(lines: list[bytes]) -> float:
    loads = json.loads
    start = time.perf_counter()
    for line in lines:
        try:  # noqa: SIM105 - contextlib.suppress would slow the baseline down
            loads(line)
        except ValueError:  # the plain lines: json.loads refuses them, as it would
            pass
    return len(lines) / (time.perf_counter() - start)


def rate_parse(lines: list[bytes], redactor: Redactor) -> float:
    parser = LineParser(redact=redactor)
    buffer = LogBuffer(10_000)
    start = time.perf_counter()
    for first in range(0, len(lines), BATCH):
        parser.parse_into(lines[first:first + BATCH], buffer)
    elapsed = time.perf_counter() - start
    assert buffer.received == len(lines)
    return len(lines) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lines = app_lines(args.lines)
    redactor = Redactor([f"sk-live-secret-value-{n:04d}-abcdefgh" for n in range(14)]
                        + ["rediss://default:production-pass@redis.example.com:6380"])
    fast = log_parse._fast_decode
    decoders = {"stdlib json": None} | ({"msgspec": fast} if fast is not None else {})
    json_rates: list[float] = []
    parse_rates: dict[str, list[float]] = {name: [] for name in decoders}
    try:
        for _ in range(args.runs):
            json_rates.append(rate_json(lines))
            for name, decode in decoders.items():
                log_parse._fast_decode = decode
                parse_rates[name].append(rate_parse(lines, redactor))
    finally:
        log_parse._fast_decode = fast
    baseline = max(json_rates)
    size = sum(len(line) for line in lines) / len(lines)
    print(f"lines: {len(lines):,} (mean {size:.0f} bytes), best of {args.runs} interleaved runs")
    print(f"json.loads alone                        : {baseline:10,.0f} lines/s")
    for name, rates in parse_rates.items():
        ours = max(rates)
        verdict = "OK" if ours >= 100_000 else "UNDER"
        print(f"parsed into the log buffer ({name:11}): {ours:10,.0f} lines/s  "
              f"({ours / baseline:.2f}x json.loads; budget 100,000/s: {verdict})")
    if fast is None:
        print("(msgspec is not installed: the cockpit parses with the stdlib)")


if __name__ == "__main__":
    main()

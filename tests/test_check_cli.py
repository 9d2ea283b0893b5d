"""`ppcockpit check` as CI runs it: a real subprocess against real servers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tomli_w

from ppcockpit.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def health_body(openai: str = "healthy") -> bytes:
    data = {"status": "ok", "timestamp": None, "dependencies": {
        "supabase": {"status": "ok", "latencyMs": 2, "message": None},
        "analytics": {"status": "ok"},
        "aiProviders": {"configuration": {"openai": "configured", "ollama": "missing"},
                        "selection": None,
                        "stats": {"openai": {"status": openai, "latencyMs": 40,
                                             "successCount": 1, "failureCount": 0,
                                             "degradedCount": 0, "error": None},
                                  "ollama": {"status": "unavailable", "latencyMs": None,
                                             "successCount": 0, "failureCount": 5,
                                             "degradedCount": 0, "error": None}}}}}
    return json.dumps({"success": True, "data": data}).encode()


class AppServer:
    """A threaded HTTP server in the test process; the cockpit runs in another process."""

    def __init__(self) -> None:
        self.openai = "healthy"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = health_body(owner.openai)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-ID", "req-check-1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app_server() -> Iterator[AppServer]:
    server = AppServer()
    yield server
    server.close()


def write(tmp_path: Path, environment: dict, probes: dict | None = None) -> Path:
    path = tmp_path / "cockpit.toml"
    document = {"environments": {"production": environment},
                "probes": {"pwa": {"enabled": False}, **(probes or {})}}
    path.write_text(tomli_w.dumps(document))
    return path


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ppcockpit", "check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_go_table_and_json(tmp_path: Path, app_server: AppServer,
                           redis_server: RedisServer) -> None:
    config = write(tmp_path, {"base_url": app_server.url, "redis_url": redis_server.url})
    table = check("--config", str(config))
    assert table.returncode == 0, table.stdout + table.stderr
    assert "✔ health" in table.stdout and "GO" in table.stdout
    assert "- posthog" in table.stdout and "not configured" in table.stdout

    result = check("--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["environment"] == "production" and document["verdict"] == "go"
    assert document["checked_at"]
    probes = {p["name"]: p for p in document["probes"]}
    for probe in probes.values():
        assert set(probe) == {"name", "status", "label", "summary", "latency_ms", "metrics",
                              "details", "error"}
    health = probes["health"]
    assert health["details"]["request_id"] == "req-check-1"
    assert health["details"]["providers"]["openai"] == {
        **health["details"]["providers"]["openai"], "status": "healthy", "configured": True,
        "consecutive_unavailable": 0}
    assert health["details"]["providers"]["ollama"]["configured"] is False
    redis_metrics = probes["redis"]["metrics"]
    for key in ("used_memory", "maxmemory", "memory_ratio", "connected_clients",
                "blocked_clients", "ops_per_sec"):
        assert key in redis_metrics
    assert redis_metrics["connected_clients"] == 0
    assert probes["posthog"]["status"] == "skipped"


def test_no_go_when_a_configured_provider_is_unavailable(tmp_path: Path,
                                                         app_server: AppServer) -> None:
    app_server.openai = "unavailable"
    config = write(tmp_path, {"base_url": app_server.url})
    result = check("--config", str(config))
    assert result.returncode == 1
    assert "NO-GO" in result.stdout and "openai" in result.stdout


def test_no_go_when_redis_is_unreachable(tmp_path: Path, app_server: AppServer) -> None:
    config = write(tmp_path, {"base_url": app_server.url,
                              "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    result = check("--config", str(config), "--json")
    assert result.returncode == 1
    redis = next(p for p in json.loads(result.stdout)["probes"] if p["name"] == "redis")
    assert redis["status"] == "unavailable" and "refused" in redis["summary"]


def test_no_go_when_redis_is_over_its_critical_threshold(tmp_path: Path, app_server: AppServer,
                                                         redis_server: RedisServer) -> None:
    config = write(tmp_path, {"base_url": app_server.url, "redis_url": redis_server.url},
                   probes={"redis": {"memory_warn": 0.0001, "memory_crit": 0.0002}})
    result = check("--config", str(config), "--only", "redis")
    assert result.returncode == 1, result.stdout
    assert "✖ redis" in result.stdout
    document = json.loads(check("--config", str(config), "--only", "redis", "--json").stdout)
    assert document["probes"][0]["label"] == "memory ≥ 0.02%"  # the screen's words


def test_only_runs_the_named_probes(tmp_path: Path, app_server: AppServer) -> None:
    config = write(tmp_path, {"base_url": app_server.url})
    result = check("--config", str(config), "--json", "--only", "health")
    assert [p["name"] for p in json.loads(result.stdout)["probes"]] == ["health"]


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "heath"], "unknown probe 'heath' (did you mean 'health'?); the probes are:"),
    (["--env", "prod"], "'prod' is not an environment here; the environments are: production"),
    (["--config", "/nope/cockpit.toml"], "/nope/cockpit.toml: no such configuration file"),
    (["--env-file", "/nope/.env"], "--env-file /nope/.env: no such file"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_and_config_errors_exit_2_without_traceback(tmp_path: Path, args: list[str],
                                                          message: str) -> None:
    config = write(tmp_path, {"base_url": "http://127.0.0.1:9"})
    result = check(*(["--config", str(config)] if "--config" not in args else []), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_secret_values_never_reach_the_output(tmp_path: Path, app_server: AppServer) -> None:
    password = "pl4nted-redis-passw0rd"
    port = free_port()
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({
        "environments": {"production": {"base_url": app_server.url,
                                        "redis_url": "${REDIS_URL}"}},
        "probes": {"pwa": {"enabled": False}}}))
    env_file = tmp_path / ".env"
    env_file.write_text(f"REDIS_URL=redis://:{password}@127.0.0.1:{port}/0\n")
    for extra in ([], ["--json"]):
        result = check("--config", str(config), "--env-file", str(env_file), *extra)
        assert result.returncode == 1
        assert password not in result.stdout + result.stderr

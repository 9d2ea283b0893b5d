"""Several `ppcockpit check`s at once (CI jobs, a team's terminals): each still measures its
targets, not the other probes' imports (issue 9: eight at once gave eight false NO-GOs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.every_probe import every_probe_config

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 4


def test_concurrent_checks_time_each_probe_from_when_its_work_starts(tmp_path: Path) -> None:
    # Reading two small files takes milliseconds; one second is plenty, unless the wait
    # behind other probes' preparation (CPU-heavy imports, four processes on few cores)
    # is counted against it.
    config = every_probe_config(tmp_path, secrets_timeout="1s")
    running = [subprocess.Popen([sys.executable, "-m", "ppcockpit", "check", "--json",
                                 "--config", str(config)], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(PROCESSES)]
    secrets = []
    for process in running:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, stderr  # its other targets refuse: no-go
        probes = {p["name"]: p for p in json.loads(stdout)["probes"]}
        secrets.append(probes["secrets"])
    assert [(s["status"], s["summary"]) for s in secrets] == [
        ("healthy", "2 keys consistent in .env.staging and .env.production")] * PROCESSES

"""SSL_CERT_FILE / SSL_CERT_DIR that cannot be read never hang the cockpit: a clear message.

SSL_CERT_FILE naming a FIFO used to hang `check` forever: the prepare thread blocked in
open() while holding the TLS lock the event loop then waited on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from ppcockpit.model import ProbeMisconfigured
from probes import tls

ROOT = Path(__file__).resolve().parent.parent


def check(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT")}
    return subprocess.run([sys.executable, "-m", "ppcockpit", "check", "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=environ | env)


def write_config(tmp_path: Path, base_url: str) -> Path:
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps({"environments": {"production": {"base_url": base_url}}}))
    return config


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:9", "http://127.0.0.1:9"])
def test_a_fifo_as_ssl_cert_file_is_a_clear_no_go_not_a_hang(tmp_path: Path,
                                                             base_url: str) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = check(write_config(tmp_path, base_url), SSL_CERT_FILE=str(fifo))
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"SSL_CERT_FILE {fifo} is not a regular file" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_file_as_ssl_cert_dir_is_a_clear_no_go(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "certs"
    not_a_dir.write_text("")
    result = check(write_config(tmp_path, "https://127.0.0.1:9"), SSL_CERT_DIR=str(not_a_dir))
    assert result.returncode == 1
    assert f"SSL_CERT_DIR {not_a_dir} is not a directory" in result.stdout


@pytest.mark.parametrize(("make", "problem"), [
    (os.mkfifo, "is not a regular file"),
    (os.mkdir, "is not a regular file"),
    (lambda path: None, "does not exist"),
])
async def test_the_loop_is_told_at_once_without_opening_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, problem: str) -> None:
    path = tmp_path / "ca.pem"
    make(path)
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    started = time.monotonic()
    with pytest.raises(ProbeMisconfigured, match=f"SSL_CERT_FILE {path} {problem}"):
        await tls.context()
    with pytest.raises(ProbeMisconfigured, match=problem):
        tls.context_blocking()
    assert time.monotonic() - started < 1


async def test_a_ca_bundle_that_is_not_pem_is_a_clear_misconfiguration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with pytest.raises(ProbeMisconfigured, match=f"cannot load TLS certificates from {bundle}"):
        await tls.context()


async def test_a_good_bundle_is_built_once_and_shared(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import trustme

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    first = await tls.context()
    assert await tls.context() is first and tls.context_blocking() is first

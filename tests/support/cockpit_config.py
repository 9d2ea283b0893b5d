"""Writing small cockpit.toml files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from ppcockpit.config import Config, load_config


def write_config(directory: Path, environment: dict[str, Any],
                 probes: dict[str, Any] | None = None, name: str = "test") -> Path:
    document: dict[str, Any] = {"environments": {name: environment}}
    document["probes"] = {"pwa": {"enabled": False}, **(probes or {})}
    path = directory / "cockpit.toml"
    path.write_text(tomli_w.dumps(document))
    return path


def make_config(directory: Path, environment: dict[str, Any],
                probes: dict[str, Any] | None = None) -> Config:
    return load_config(write_config(directory, environment, probes))

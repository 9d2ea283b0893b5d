"""The package boundaries hold: checked in fresh interpreters, by what ends up in sys.modules."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("supabase", "asyncssh", "posthog")


HTTP_LIBRARIES = ("httpx", "httpcore", "aiohttp", "redis", "posthog", "supabase", "requests",
                  "urllib3")


def modules_after(statement: str, env: dict[str, str] | None = None) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60,
                         env=None if env is None else {**os.environ, **env})
    return set(json.loads(out.stdout))


def test_core_and_probes_never_import_textual() -> None:
    loaded = modules_after(
        "import ppcockpit.runner, ppcockpit.config, ppcockpit.state, ppcockpit.report, "
        "ppcockpit.verdict, ppcockpit.redis_server\n"
        "import pkgutil, importlib, probes\n"
        "for m in pkgutil.iter_modules(probes.__path__):\n"
        "    importlib.import_module('probes.' + m.name)"
    )
    assert not any(name == "textual" or name.startswith("textual.") for name in loaded)
    assert not any(name.startswith("screens") for name in loaded)


def test_heavy_libraries_are_not_imported_at_start() -> None:
    loaded = modules_after("import ppcockpit.cli, ppcockpit.app")
    assert not [name for name in loaded if name.split(".")[0] in HEAVY]


def test_building_the_probes_leaves_http_libraries_for_after_the_first_frame(tmp_path) -> None:
    # Their imports (a third of a second) happen in each probe's prepare(), in a thread.
    config = tmp_path / "cockpit.toml"
    config.write_text('[environments.x]\nbase_url = "https://app.example"\n'
                      'redis_url = "redis://127.0.0.1:6379/0"\n')
    loaded = modules_after(
        "from pathlib import Path\n"
        "from ppcockpit.cli import build_runner\n"
        "from ppcockpit.config import load_config\n"
        f"runner = build_runner(load_config(Path({str(config)!r})))\n"
        "assert {'health', 'redis', 'pwa'} <= set(runner.probes), runner.probes"
    )
    assert not [name for name in loaded if name.split(".")[0] in ("httpx", "aiohttp", "redis")]


def test_building_the_probes_of_the_shipped_config_imports_no_http_library() -> None:
    # The shipped cockpit.toml, with its ${VAR}s set: PostHog is configured, so the PostHog
    # probe is built too. Its HTTP library comes with its prepare(), in a thread.
    loaded = modules_after(
        "from pathlib import Path\n"
        "from ppcockpit.cli import build_runner\n"
        "from ppcockpit.config import load_config\n"
        "runner = build_runner(load_config(Path('cockpit.toml')))\n"
        "assert {'health', 'redis', 'posthog', 'pwa'} <= set(runner.probes), runner.probes",
        env={"REDIS_URL": "redis://127.0.0.1:6379/0",
             "POSTHOG_PERSONAL_API_KEY": "phx_importHygieneTestKey0123"})
    assert not [name for name in loaded if name.split(".")[0] in HTTP_LIBRARIES]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_probes_and_screens_never_import_each_other() -> None:
    for path in (ROOT / "probes").rglob("*.py"):
        assert not _imports(path) & {"screens", "textual", "themes"}, path
    for path in (ROOT / "screens").rglob("*.py"):
        assert "probes" not in _imports(path), path


def test_only_app_and_cli_wire_screens_into_the_core() -> None:
    for path in (ROOT / "ppcockpit").rglob("*.py"):
        if path.name in {"app.py", "cli.py"}:
            continue
        assert not _imports(path) & {"screens", "textual", "themes"}, path

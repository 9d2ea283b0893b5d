"""`ppcockpit runbook import FILE.md [-o FILE]`: a Markdown runbook as runbook TOML.

The conversion itself is ppcockpit.markdown_runbook (pure); this module reads the file,
checks that what it wrote loads as a runbook, and writes it out (stdout or -o FILE).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from ppcockpit.markdown_runbook import NothingToImport, import_markdown
from ppcockpit.runbook import load_runbook
from ppcockpit.text import escape_controls
from ppcockpit.toml_document import ConfigError, read_text

EXIT_OK, EXIT_USAGE = 0, 2
PROG = "ppcockpit runbook import"
MAX_MARKDOWN_BYTES = 1024 * 1024  # a runbook is a few pages; more is not one


def to_toml(data: dict[str, Any], source: str) -> str:
    """The runbook data as TOML, with a header saying where it came from."""
    steps = [step for phase in data["phases"] for step in phase["steps"]]
    commands = sum(1 for step in steps if step["kind"] == "command")
    header = (f"# Imported by `{PROG}` from {escape_controls(Path(source).name)}: "
              f"{len(data['phases'])} phases, {len(steps)} steps ({commands} commands).\n"
              "# Review it before use: give command steps a `cwd` and a `timeout`, and bind\n"
              "# steps to evidence where the cockpit can check it (kind = \"probe\").\n\n")
    return header + tomli_w.dumps(data, multiline_strings=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Turn a Markdown runbook into runbook TOML: phases from "
        "headings, steps from list items, commands from code that looks like one.")
    parser.add_argument("file", metavar="FILE.md", help="the Markdown runbook")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the TOML here (default: standard output)")
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Exit 0 with the TOML written; 2 with one clear line when the file cannot be read,
    holds nothing to import, or the output cannot be written."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already explained)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        text = read_text(Path(args.file), "Markdown file", MAX_MARKDOWN_BYTES)
        data = import_markdown(text, args.file)
        toml_text = to_toml(data, args.file)
        if args.output:
            _write(Path(args.output), toml_text, force=args.force)
            print(f"{escape_controls(args.output)}: {toml_text.splitlines()[0][2:]}",
                  file=stderr)
        else:
            _check_loads(toml_text)
            stdout.write(toml_text)
    except (ConfigError, NothingToImport) as exc:
        print(f"{PROG}: {escape_controls(exc)}", file=stderr)
        return EXIT_USAGE
    return EXIT_OK


def _check_loads(toml_text: str, directory: Path | None = None) -> Path:
    """A temporary file holding `toml_text`, proven to load as a runbook (ConfigError if
    not: a bug of the importer, said as such rather than written out)."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed here, removed by callers)
        "w", encoding="utf-8", suffix=".toml", prefix=".runbook-import-",
        dir=directory, delete=False)
    path = Path(handle.name)
    try:
        with handle:
            handle.write(toml_text)
        load_runbook(path)
    except ConfigError as exc:
        path.unlink(missing_ok=True)
        raise ConfigError(f"the imported runbook does not load (a bug of the importer, "
                          f"please report it): {exc}") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if directory is None:
        path.unlink(missing_ok=True)
    return path


def _write(target: Path, toml_text: str, *, force: bool) -> None:
    """Write `toml_text` to `target` whole or not at all (a temporary file renamed)."""
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; add --force to replace it")
    if target.exists() and not target.is_file():
        raise ConfigError(f"{target}: is not a regular file")
    directory = target.parent
    try:
        temporary = _check_loads(toml_text, directory)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from None


__all__ = ["NothingToImport", "import_markdown", "main", "to_toml"]

if __name__ == "__main__":
    raise SystemExit(main())

"""The `ppcockpit` command's first Python: quiet on Ctrl-C even while the rest is imported."""

from __future__ import annotations

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from ppcockpit.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

"""The `ppcockpit` command's first Python: quiet on Ctrl-C even while the rest is imported."""

from __future__ import annotations

import gc

EXIT_INTERRUPTED = 130


def main() -> int:
    # Start-up builds tens of thousands of objects that live as long as the process, and
    # almost no garbage: the collector's passes over them cost ~20 ms before the first frame.
    # Collection resumes once the cockpit has painted (app) or before any other command runs
    # (cli).
    gc.disable()
    try:
        from ppcockpit.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

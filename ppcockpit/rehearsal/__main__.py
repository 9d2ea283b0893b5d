"""`python -m ppcockpit.rehearsal ...`: the same as `ppcockpit rehearse ...` without the TUI."""

import sys

from ppcockpit.rehearsal.command import main

sys.exit(main(sys.argv[1:], None))

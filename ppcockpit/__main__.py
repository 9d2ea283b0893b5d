import sys

from ppcockpit.entry import EXIT_INTERRUPTED, main

try:
    code = main()
except KeyboardInterrupt:  # between the import above and main's own guard
    code = EXIT_INTERRUPTED
sys.exit(code)

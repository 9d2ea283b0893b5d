import sys

from ppcockpit.cli import main

sys.exit(main())

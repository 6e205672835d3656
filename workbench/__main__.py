"""`python -m workbench ...` is the `workbench` command (the app starts studies this way)."""

import sys

from workbench.cli import main

sys.exit(main())

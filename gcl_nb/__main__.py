"""`python -m gcl_nb` runs the workbench's command line (the library itself never imports the app)."""

import sys

from gcl_nb.workbench.cli import main

sys.exit(main())

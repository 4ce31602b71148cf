import sys

from gcl_nb.workbench.cli import main

sys.exit(main())

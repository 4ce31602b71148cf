import sys

from gcl_nb.cli import main

sys.exit(main())

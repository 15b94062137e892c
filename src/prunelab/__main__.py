"""``python -m prunelab`` = the ``prunelab`` console script (the workflow uses this form)."""

import sys

from prunelab.cli import main

sys.exit(main())

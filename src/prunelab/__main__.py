"""``python -m prunelab`` = the ``prunelab`` console script (the workflow uses this form).

When the workflow has a job worker up (:mod:`prunelab.cli.handoff`), the command runs in a child forked from
it, which has torch imported already; otherwise, or when it refuses, in this process.
"""

import sys

from prunelab.cli.handoff import delegate, interrupted

try:
    status = delegate(sys.argv[1:])
    if status is None:
        from prunelab.cli.commands import main

        status = main()
except KeyboardInterrupt:  # while waiting on the worker, or importing the job code
    status = interrupted()
sys.exit(status)

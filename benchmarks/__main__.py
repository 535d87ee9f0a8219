"""``python -m benchmarks``: see :mod:`benchmarks.suite`."""

import sys

from .suite import main

sys.exit(main())

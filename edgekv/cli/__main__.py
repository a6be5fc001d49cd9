"""``python -m edgekv.cli``: the ``edgekv`` command."""

import sys

from . import main

sys.exit(main())

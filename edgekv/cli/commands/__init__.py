"""Sub-commands of the ``edgekv`` CLI, one module each (see :mod:`edgekv.cli`)."""

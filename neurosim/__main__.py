"""``python -m neurosim``: the ``neurosim`` command (see :mod:`neurosim.cli`)."""

import sys

from neurosim.cli import main

if __name__ == "__main__":
    sys.exit(main())

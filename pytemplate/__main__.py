"""`python -m pytemplate`: see pytemplate.command."""

from __future__ import annotations

import sys

from pytemplate.command import main

if __name__ == "__main__":
    sys.exit(main())

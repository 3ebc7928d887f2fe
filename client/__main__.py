"""`python -m client`: the same as the `aioftp-lite-client` command."""

import sys

from .app import main

sys.exit(main())

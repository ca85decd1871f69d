"""``python -m gateway.cli``: the same as ``tillgw``, for when the script is not on the PATH."""

import sys

from gateway.cli import main

sys.exit(main())

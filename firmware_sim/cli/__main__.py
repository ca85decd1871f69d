"""``python -m firmware_sim.cli sim DEVICE ...``: the simulators without the gateway."""

from __future__ import annotations

import sys

from firmware_sim.cli import main

if __name__ == "__main__":
    sys.exit(main())

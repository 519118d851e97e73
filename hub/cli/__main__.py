"""``python -m hub.cli``."""

import sys

from hub.cli import main

sys.exit(main())

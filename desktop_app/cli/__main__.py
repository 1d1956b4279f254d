"""``python -m desktop_app.cli``."""

import sys

from desktop_app.cli.main import main

sys.exit(main())

"""``python -m workbook``: the workbook's command line."""

import sys

from .cli import main

sys.exit(main())

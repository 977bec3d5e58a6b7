"""`python -m bot` runs the `vision-bot` command."""

import sys

from bot.cli import main

sys.exit(main())

"""`python -m mtrec.pipeline.cli` runs the `mtrec` command."""

import sys

from mtrec.pipeline.cli.main import main

sys.exit(main())

"""`python -m modelship`: the same as the `modelship` command."""

import sys

from modelship.cli import main

sys.exit(main())

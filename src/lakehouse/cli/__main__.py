"""python -m lakehouse.cli"""

import sys

from lakehouse.cli import main

sys.exit(main())

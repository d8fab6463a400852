import sys

from engage.cli import main

sys.exit(main())

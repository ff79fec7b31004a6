import sys

from ratecalc.cli import main

sys.exit(main())

import sys

from rdvctl.cli import main

sys.exit(main())

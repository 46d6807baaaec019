import sys

from satellite.cli import main

sys.exit(main())

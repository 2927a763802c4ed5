import sys

from cvcore.cli import main

sys.exit(main())

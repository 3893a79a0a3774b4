import sys

from model.eval.cli import main

sys.exit(main())

import sys

from model.train.cli import main

sys.exit(main())

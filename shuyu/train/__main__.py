"""`python -m shuyu.train run …`: the same as `shuyu train run …`."""

import sys

from shuyu.cli.main import main

sys.exit(main(["train", *sys.argv[1:]]))

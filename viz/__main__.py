"""`python -m viz gallery --out DIR` / `python -m viz render FILE.py:FUNC --out fig.svg`."""
import sys

from .cli import main

sys.exit(main())

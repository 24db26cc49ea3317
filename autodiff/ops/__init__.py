"""The built-in ops, grouped by kind. Each op class keeps forward and backward together.

The engine's speed layer (autodiff/_fastpath.py) is applied here, in this one place:
before any op class exists, so that every op's public name (`exp = Exp.apply`) binds the
tuned apply. AUTODIFF_FASTPATH=0 in the environment keeps the plain core.
"""
from .. import _fastpath

_fastpath.install()

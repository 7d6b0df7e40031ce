"""The Python back end: the interpreter and the standalone module generator, which share the
runtime support in `support.py` and the value semantics of `ir/values.py`."""

from typing import Literal

EngineName = Literal["compiled", "interpreted"]
"""The two engines a policy decides with: the compiled module, or the interpreter over the IR."""

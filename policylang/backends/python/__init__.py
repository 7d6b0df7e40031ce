"""The Python back end: the interpreter and the standalone module generator, which share the
runtime support in `support.py` and the value semantics of `ir/values.py`."""

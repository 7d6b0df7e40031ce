"""The back ends: `python/` (interpreter and compiled module); each reads only the typed IR."""

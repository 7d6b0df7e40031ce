"""`policyc`, the command line: one click group over the library; each command module adds its
commands to `main` and calls one library function per command.

The group imports a command's module only when that command runs (`cli/lazy.py`: `policyc lint`
never loads the simulator, the gateway or the code generator); `COMMANDS` in `cli/common.py`
says which module holds each command.

Exit status (section 9): 0 fine; 1 the policy or a request failed (errors, warnings under
--deny-warnings, failing tests, a stale module, a bad request); 2 usage or I/O error.
"""

from __future__ import annotations

from .common import main

__all__ = ["main"]

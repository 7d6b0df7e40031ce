"""`policyc`, the command line: one click group over the library; each command module adds its
commands to `main` and calls one library function per command.

Exit status (section 9): 0 fine; 1 the policy or a request failed (errors, warnings under
--deny-warnings, failing tests, a stale module, a bad request); 2 usage or I/O error.
"""

from __future__ import annotations

from .common import main
from . import check as _check  # noqa: F401  (registers lint, compile, eval, test)
from . import authoring as _authoring  # noqa: F401  (registers fmt, graph)
from . import review as _review  # noqa: F401  (registers explain, diff)
from . import simulate as _simulate  # noqa: F401  (registers simulate)
from . import editor as _editor  # noqa: F401  (registers lsp)
from . import importing as _importing  # noqa: F401  (registers import litellm, import portkey)
from . import serve as _serve  # noqa: F401  (registers serve)
from . import report as _report  # noqa: F401  (registers report)

__all__ = ["main"]

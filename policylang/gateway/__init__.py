"""`policyc serve` (section 14): an OpenAI-compatible gateway that runs served policies through
`policylang.runtime` for apps in any language. Needs the `serve` extra (uvicorn, aiohttp);
`import policylang` never imports this package.

Modules: `config` (the TOML config, validated), `signals` (signals from a request), `keys`
(client keys, rates), `upstream` (the upstream call), `served` (a config loaded and checked
with its policies), `app` and `streaming` (the ASGI app), `server` (workers, reload, drain).
"""

from .config import Config, ConfigError
from .keys import digest

__all__ = ["Config", "ConfigError", "digest"]

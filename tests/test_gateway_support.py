"""Shared pieces of the gateway tests (no tests here): a policy, a config writer, a gateway run
in a thread of the test process, and a `policyc serve` subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

DESK = """
policy desk

import "std/signals"

signal task: enum {chat, code, legal} = code

model fast  { id = "mock/fast"  tier = 1 input_per_mtok = $1 output_per_mtok = $2  context = 100_000 max_output = 2_000 latency = 1s }
model spare { id = "mock/spare" tier = 1 input_per_mtok = $0.5 output_per_mtok = $1 context = 100_000 max_output = 1_000 latency = 1s }
model big   { id = "other/big"  tier = 2 input_per_mtok = $3 output_per_mtok = $15 context = 200_000 max_output = 4_000 latency = 2s }

fallback fast  -> spare on unavailable, rate_limited, server_error
fallback spare -> big   on unavailable, rate_limited, server_error

route {
  rule too_large when input_tokens > 90_000 -> reject "input too large"
  rule legal     when task == legal         -> big
  rule chat      when task == chat          -> fast with max_output = 500
  rule tools     when tool_count > 2        -> big
  default -> fast
}
"""

TOKEN = "sk-client-test-token"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(tmp: Path, upstream: str, *, other: str | None = None, keys: str = "", extra: str = "",
                 policy: str = DESK, log: bool = True) -> Path:
    """A serve config for the DESK policy under the name `desk`, both prefixes on `upstream`
    (or `other/` on `other`), the decision log in tmp/decisions.jsonl."""
    (tmp / "desk.route").write_text(policy)
    text = f"""
[policies.desk]
file = "desk.route"

[signals]
task         = {{ header = "x-task" }}
input_tokens = {{ extract = "input_tokens" }}
tool_count   = {{ extract = "tool_count" }}

[upstreams]
"mock/"  = {{ base_url = "{upstream}", api_key_env = "GATEWAY_TEST_UPSTREAM_KEY", timeout = 5 }}
"other/" = {{ base_url = "{other or upstream}", api_key_env = "GATEWAY_TEST_UPSTREAM_KEY", timeout = 5 }}

[reload]
interval = 0.2
{keys}
{extra}
"""
    if log:
        text += '\n[log]\npath = "decisions.jsonl"\n'
    path = tmp / "serve.toml"
    path.write_text(text)
    return path


UPSTREAM_KEY = "sk-upstream-SECRET-abcdef123456"


class InThread:
    """The gateway's app for a config, served by uvicorn in a thread of this process."""

    def __init__(self, config: Path) -> None:
        import uvicorn

        from policylang.gateway.server import make_app
        os.environ["GATEWAY_TEST_UPSTREAM_KEY"] = UPSTREAM_KEY
        self.port = free_port()
        self.app = make_app(str(config))
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="critical",
                                                    lifespan="on", http="httptools", loop="asyncio",
                                                    timeout_graceful_shutdown=5))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> InThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not (self.server.started and self.app.served is not None):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class Serve:
    """`policyc serve CONFIG` as a subprocess; `wait_ready()` polls /health/ready."""

    def __init__(self, config: Path | str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        environment = {**os.environ, "GATEWAY_TEST_UPSTREAM_KEY": UPSTREAM_KEY, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from policylang.cli import main; main()", "serve", str(config), "--port", str(self.port),
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float = 60) -> None:
        """Until /health/ready answers 200 (RuntimeError with the server's output if it exits)."""
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {self.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve did not become ready")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and standard error."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err

    def __enter__(self) -> Serve:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The decision log's end records."""
    from policylang.runtime import read_log
    return list(read_log(str(path)))

"""A Prefect server for `newswatch serve` when none is configured.

Prefect's temporary (ephemeral) API runs no background services, so schedules served
against it never create a run. Serving therefore needs a real server: this starts
`prefect server start` on 127.0.0.1 as a child process and stops it on exit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

DEFAULT_PORT = 4200
STARTUP_TIMEOUT_S = 180.0


class LocalServerError(RuntimeError):
    pass


def _free_port(preferred: int) -> int:
    """`preferred` when it is free, else any free port (0 asks for any)."""
    with socket.socket() as probe:
        # As the server will: a port lingering in TIME_WAIT after a restart is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_prefect_server(port: int = DEFAULT_PORT) -> Iterator[str]:
    """Run a Prefect server with its services; yield its API URL once it is healthy."""
    port = _free_port(port)
    api_url = f"http://127.0.0.1:{port}/api"
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    # The UI asks this URL for its API; it defaults to port 4200 whatever --port says.
    env["PREFECT_UI_API_URL"] = api_url
    env.pop("PREFECT_API_URL", None)
    # A session of its own: Ctrl-C in the terminal must not stop the server before the
    # runner has paused its deployments through it; the `finally` below stops it after.
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_healthy(server, api_url)
        yield api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_healthy(server: subprocess.Popen[bytes], api_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise LocalServerError(f"prefect server exited with code {server.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LocalServerError(f"prefect server did not answer at {api_url} within the time limit")

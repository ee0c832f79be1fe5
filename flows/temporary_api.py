"""Prefect's temporary API for one-off runs, served from a thread of this process.

With no API configured, Prefect starts its temporary API as a second Python process: a
uvicorn server that imports Prefect again and holds its own copy of everything Prefect
loads (~230 MB for the length of the run, measured with bench/pipeline.py). The same
application (`create_app(ephemeral=True)`, as Prefect's own temporary server runs it: no UI
or scheduler, the same SQLite database under PREFECT_HOME) served by uvicorn from a thread
here shares this process's imports: ~55 MB more in this process instead of ~230 MB in
another, and no second interpreter to start. Flows still reach it over HTTP on 127.0.0.1,
as they would a server.

A configured API (PREFECT_API_URL from the environment, a Prefect profile or prefect.toml)
is always used as it is.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from newswatch.malloc import limit_malloc_arenas

STARTUP_TIMEOUT_S = 180.0  # a first start migrates a new database: ~10 s here, more if busy
STOP_TIMEOUT_S = 30.0


class TemporaryApiError(RuntimeError):
    """The temporary API did not start."""


@contextmanager
def prefect_api() -> Iterator[str]:
    """The Prefect API URL flows run against inside this block: the configured one, or that
    of a temporary API served from this process until the block ends."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if _in_event_loop():
        raise RuntimeError("prefect_api() is for synchronous callers, outside an event loop")
    configured = PREFECT_API_URL.value()
    if configured:
        yield str(configured)
        return
    limit_malloc_arenas()  # before the API's threads start (see newswatch/malloc.py)
    server = _ThreadedApi()
    server.start()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                _drain_prefect_clients()
    finally:
        server.stop()


class _ThreadedApi:
    def __init__(self) -> None:
        import uvicorn
        from prefect.server.api.server import create_app

        # Bound here, so the port is ours before the server runs: no race for a free port.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{port}/api"
        config = uvicorn.Config(
            create_app(ephemeral=True, final=True), log_level="error", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="prefect-temporary-api",
            daemon=True,  # never keeps the interpreter alive; stop() ends it first
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    self._socket.close()
                    raise TemporaryApiError("Prefect's temporary API stopped while starting")
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise TemporaryApiError(
            f"Prefect's temporary API did not answer within {STARTUP_TIMEOUT_S:.0f} s"
        )

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT_S)
        self._socket.close()


def _drain_prefect_clients() -> None:
    """Let Prefect's background log and event senders deliver what they hold before the API
    stops (Prefect's own test harness does the same); otherwise they retry against a closed
    port for a minute at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # blocking: no event loop runs in this thread
    EventsWorker.drain_all(timeout=10)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

"""`newswatch serve`'s local Prefect server: a real one, with its services, stopped on exit."""

from __future__ import annotations

import socket

import httpx

from flows.local_server import _free_port, local_prefect_server


def test_local_server_answers_then_stops() -> None:
    with local_prefect_server(port=_free_port(0)) as api_url:
        assert api_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
    try:
        httpx.get(f"{api_url}/health", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the server outlived its context")


def test_a_taken_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _free_port(port) != port

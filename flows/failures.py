"""Runs that cannot do their job fail with one clear line, not a traceback alone.

A broken source is the run's business (reported, skipped, the run Completed); a config that
does not load or a database that cannot be reached means no source can be polled at all.
`@fails_clearly`, placed under `@flow`, turns those errors into a Failed state whose message
is one line ("monitor cannot run: cannot open database ...: connection refused"), logged
once at ERROR. The state still carries the exception, so a caller awaiting the flow (the
CLI) gets it raised as before. Any other exception is a bug: Prefect's traceback stays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from prefect import get_run_logger
from prefect.states import Failed

from newswatch.config import ConfigError
from storage.db import DatabaseError

P = ParamSpec("P")
R = TypeVar("R")

# Errors that mean "this run cannot do its job", each with a message fit to show as is.
FATAL: tuple[type[Exception], ...] = (ConfigError, DatabaseError)


def failure_message(flow_name: str, exc: BaseException) -> str:
    """One line: what could not run and why (multi-line messages folded)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return f"{flow_name} cannot run: {reason}"[:1000]


def fails_clearly(
    flow_name: str,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate an async flow function (under `@flow`) so fatal errors fail it clearly."""

    def decorate(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(fn)  # Prefect reads the parameters through __wrapped__
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except FATAL as exc:
                message = failure_message(flow_name, exc)
                get_run_logger().error(message)
                # A returned Failed state fails the run with this message; its data is the
                # exception, which `flow()` callers get raised.
                return cast(R, Failed(message=message, data=exc))

        return wrapper

    return decorate

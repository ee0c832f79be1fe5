"""Runs that cannot do their job fail with one clear line, not a traceback alone.

A broken source is the run's business (reported, skipped, the run Completed); a config that
does not load or a database that cannot be reached means no source can be polled at all.
`@fails_clearly`, placed under `@flow`, turns those errors into a Failed state whose message
is one line ("monitor cannot run: cannot open database ...: connection refused"), logged
once at ERROR. The state still carries the exception, so a caller of the flow (the CLI) gets
it raised as before. Any other exception is a bug: Prefect's traceback stays.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from prefect import get_run_logger
from prefect.client.schemas.objects import State
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


def _failed(flow_name: str, exc: Exception) -> State[Any]:
    message = failure_message(flow_name, exc)
    get_run_logger().error(message)
    # A returned Failed state fails the run with this message; its data is the exception,
    # which callers of the flow get raised.
    return Failed(message=message, data=exc)


def fails_clearly(flow_name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a flow function, sync or async (under `@flow`), so fatal errors fail it
    with one line."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)  # Prefect reads the parameters through __wrapped__
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except FATAL as exc:
                    return _failed(flow_name, exc)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except FATAL as exc:
                return cast(R, _failed(flow_name, exc))

        return wrapper

    return decorate

"""newswatch/malloc.py: the arena cap takes effect on glibc and yields to the environment."""

from __future__ import annotations

import platform

import pytest

from newswatch.malloc import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_the_cap_takes_effect_on_glibc() -> None:
    assert limit_malloc_arenas() is True


def test_malloc_arena_max_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False

"""The lock single flight and the login take in the shared cache."""

from __future__ import annotations

import typing as t

from flask_kashflow_links.kashflow.session import SharedLock


class TwoStepStore:
    """A shared store whose ``add`` sets the key and never its expiry: what cachelib's Redis
    ``add`` (SETNX, then EXPIRE) leaves behind when its caller dies between the two."""

    def __init__(self) -> None:
        self.values: dict[str, t.Any] = {}

    def get(self, key: str) -> t.Any:
        return self.values.get(key)

    def set(self, key: str, value: t.Any, timeout: int) -> bool:
        self.values[key] = value
        return True

    def add(self, key: str, value: t.Any, timeout: int) -> bool | None:
        if key in self.values:
            return False
        self.values[key] = value
        return True

    def has(self, key: str) -> bool | None:
        return key in self.values

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def test_a_lock_whose_expiry_never_came_is_taken_after_its_deadline() -> None:
    store = TwoStepStore()
    now = [1_000_000.0]

    def lock() -> SharedLock:
        return SharedLock(store, "k", ttl=30, clock=lambda: now[0])

    assert lock().acquire() is True  # its holder dies here, the expiry never set
    assert lock().acquire() is False  # held, within its time
    now[0] += 29
    assert lock().acquire() is False
    now[0] += 2
    assert lock().acquire() is True  # past its deadline: cleared and taken
    assert lock().acquire() is False

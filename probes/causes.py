"""Walking an exception's chain: what it was raised from, and what that was raised from."""

from __future__ import annotations

from collections.abc import Iterator


def exception_chain(exc: BaseException, limit: int | None = None) -> Iterator[BaseException]:
    """`exc`, then its `__cause__` (else `__context__`), and so on; never loops, and stops
    after `limit` exceptions when one is given."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and (limit is None or len(seen) < limit):
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__

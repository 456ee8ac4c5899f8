"""Reading ahead: the next item of a stream made on a thread while the caller uses this one.

Decompressing the next block of a fragments file, or reading the next row group of a
store, mostly runs outside the GIL (ISA-L, Arrow), so it overlaps with the compiled
loops that take the current one.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator, each next one made on a thread while the caller uses the
    current one; an error of the iterator is raised where its item would have come.

    Parameters
    ----------
    items
        An iterator whose items are not None.

    Yields
    ------
    T
        The items, in order.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item

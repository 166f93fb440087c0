"""Where independent pieces of feature work run: here, in turn, or on a cluster's workers.

Feature builds hand their embarrassingly parallel parts (one compatibility checkpoint, one range of
opportunities' description words) to a `Mapper`. The default runs them in this process when their results
are asked for; `training.distributed.DaskMapper` sends them to a dask.distributed cluster. Either way the
very same module-level function computes each piece, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

T = TypeVar("T")


class Mapper(Protocol):
    """Runs `fn(item, *shared)` for every item, possibly elsewhere and while the caller goes on."""

    @property
    def slots(self) -> int:
        """How many pieces run at once: callers cut their work into a few pieces per slot."""
        ...

    def map(self, fn: Callable[..., T], items: Sequence[Any], *shared: Any) -> Callable[[], list[T]]:
        """Start the pieces; the returned call waits for their results, in the order of `items`.

        `fn` must be a module-level function (a cluster imports it by name); `shared` arguments are the
        same for every piece and are sent once, not once per piece.
        """
        ...


class InProcess:
    """This process, one piece after another, when the results are asked for: the single-process path."""

    @property
    def slots(self) -> int:
        return 1

    def map(self, fn: Callable[..., T], items: Sequence[Any], *shared: Any) -> Callable[[], list[T]]:
        return lambda: [fn(item, *shared) for item in items]


IN_PROCESS: Final = InProcess()


def pieces(mapper: Mapper, per_slot: int) -> int:
    """How many pieces to cut a job into: one in process (nothing to balance), else `per_slot` per slot, so
    a slow piece does not leave the other workers idle for long."""
    return 1 if mapper.slots <= 1 else mapper.slots * per_slot

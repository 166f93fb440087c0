"""Progress bars for CLI commands (rich), passed to library code as plain callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ProgressFactory = Callable[[str, int], Callable[[int], None]]


@contextmanager
def progress_bars() -> Iterator[ProgressFactory]:
    """Yield a factory: `advance = factory("what", total)`; each call to `advance(n)` moves that bar."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:

        def factory(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield factory

"""Progress bars with rate and ETA on stderr, drawn only when stderr is a terminal.

Redirected or piped stderr (a script, CI, a log file) gets nothing: a bar's carriage
returns would only clutter a log. rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

__all__ = ["Progress", "progress", "progress_shown"]


class Progress(Protocol):
    """What a command reports to a bar: work done, and a total learned late."""

    def advance(self, n: int) -> None: ...

    def set_total(self, total: int | None) -> None: ...


class _Silent:
    def advance(self, n: int) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass


def progress_shown() -> bool:
    """True when a bar would be drawn (so totals worth a query are worth computing)."""
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Progress]:
    """A records bar (done/total, records per second, time left) on a terminal's stderr."""
    if not progress_shown():
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Records per second (rich's own speed column counts bytes)."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("? rec/s" if speed is None else f"{speed:,.0f} rec/s")

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        # stdout carries the data (an export piped on): never route it through the bar.
        redirect_stdout=False,
        redirect_stderr=False,
    )

    class _Bar:
        def __init__(self) -> None:
            self.task = bar.add_task(description, total=total)

        def advance(self, n: int) -> None:
            bar.advance(self.task, n)

        def set_total(self, new_total: int | None) -> None:
            bar.update(self.task, total=new_total)

    with bar:
        yield _Bar()

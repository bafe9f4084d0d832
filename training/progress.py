"""Progress display for long CLI steps, on stderr so that ``--json`` stdout stays clean."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

err_console = Console(stderr=True)


@contextmanager
def step(title: str, *, quiet: bool = False) -> Iterator[None]:
    """Show a spinner while a step runs, then its duration.

    Parameters
    ----------
    title
        What the step does, e.g. ``"validating 541,909 rows"``.
    quiet
        Print nothing (for tests and scripted use).
    """
    if quiet:
        yield
        return
    start = time.perf_counter()
    with err_console.status(f"{title}…", spinner="dots"):
        yield
    err_console.print(f"[green]✓[/green] {title} [dim]({time.perf_counter() - start:.1f} s)[/dim]")

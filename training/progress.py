"""Progress display for long CLI steps, on stderr so that ``--json`` stdout stays clean.

In a terminal a spinner shows the step and its elapsed time, refreshed by a
background thread, so no step looks frozen while a long call (an MLflow
upload, a model fit) blocks. Off a terminal (a CI log, a pipe) each step
prints a start line, a heartbeat every ``HEARTBEAT_S`` seconds and its end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True)
HEARTBEAT_S = 15.0
REFRESH_S = 0.5


@contextmanager
def step(title: str, *, quiet: bool = False) -> Iterator[None]:
    """Show a step while it runs, then its duration.

    Parameters
    ----------
    title
        What the step does, e.g. ``"validating 541,909 rows"``.
    quiet
        Print nothing (``--quiet``, tests and scripted use).

    Yields
    ------
    None
        The block runs inside.
    """
    if quiet:
        yield
        return
    start = time.perf_counter()
    title = escape(title)  # paths and values, not markup
    if err_console.is_terminal:
        with err_console.status(f"{title}…", spinner="dots") as status:

            def refresh() -> None:
                status.update(f"{title}… [dim]{time.perf_counter() - start:.0f} s[/dim]")

            with _every(REFRESH_S, "kizuna-progress", refresh):
                yield
    else:
        err_console.print(f"… {title}", highlight=False, soft_wrap=True)

        def beat() -> None:
            elapsed = time.perf_counter() - start
            err_console.print(f"… still {title} ({elapsed:.0f} s)", highlight=False, soft_wrap=True)

        with _every(HEARTBEAT_S, "kizuna-heartbeat", beat):
            yield
    err_console.print(
        f"[green]✓[/green] {title} [dim]({time.perf_counter() - start:.1f} s)[/dim]",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def _every(seconds: float, name: str, action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` every ``seconds`` on a background thread while the block runs."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(seconds):
            action()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()

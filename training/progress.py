"""Progress display for long CLI steps, on stderr so that ``--json`` stdout stays clean.

In a terminal a spinner shows the step and its elapsed time, refreshed by a
background thread, so no step looks frozen while a long call (an MLflow
upload, a model fit) blocks. Off a terminal (a CI log, a pipe) each step
prints a start line, a heartbeat every ``HEARTBEAT_S`` seconds and its end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

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
    """
    if quiet:
        yield
        return
    start = time.perf_counter()
    done = threading.Event()
    if err_console.is_terminal:
        with err_console.status(f"{title}…", spinner="dots") as status:

            def tick() -> None:
                while not done.wait(REFRESH_S):
                    status.update(f"{title}… [dim]{time.perf_counter() - start:.0f} s[/dim]")

            thread = threading.Thread(target=tick, name="kizuna-progress", daemon=True)
            thread.start()
            try:
                yield
            finally:
                done.set()
                thread.join()
    else:
        err_console.print(f"… {title}", highlight=False, soft_wrap=True)

        def beat() -> None:
            while not done.wait(HEARTBEAT_S):
                elapsed = time.perf_counter() - start
                err_console.print(
                    f"… still {title} ({elapsed:.0f} s)", highlight=False, soft_wrap=True
                )

        thread = threading.Thread(target=beat, name="kizuna-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
    err_console.print(
        f"[green]✓[/green] {title} [dim]({time.perf_counter() - start:.1f} s)[/dim]",
        highlight=False,
        soft_wrap=True,
    )

"""The tabular stage (snapshots, churn, LTV, uplift) in a process of its own, beside the recommender.

Why a process and not a thread: the tabular stage (pandas feature snapshots,
BTYD fits, LightGBM, figures) and the recommender's NumPy-heavy steps take
turns on one GIL when they are threads of one process, so neither gets a whole
core. In a child process they run side by side; on Online Retail ``kizuna
train`` took 6% less time (BENCHMARKS.md, "Training time"), with the same results.

Why a fresh interpreter (``python -m kizuna.training.tabular_process``) and not
a fork: a forked child of a process that has run OpenMP on several threads
(LightGBM, ``implicit``) can hang in its first parallel region (LightGBM's
FAQ), and a library caller's process may have. Nor multiprocessing's
``spawn``: its child re-runs the caller's main script, which breaks a script
that trains at module level. The child inherits the environment, so the
CPU-kernel pins of :mod:`training.launch` hold in it and the results are the
ones a thread gives; the two talk over a socket pair, in pickles
(:class:`multiprocessing.connection.Connection`).

The child starts with nothing to do: it imports, then waits for its inputs,
which the caller's background thread sends; so the thread that starts it never
waits for the child's imports. Where the socket cannot be handed down
(``pass_fds`` is POSIX-only), the stage trains in the calling thread instead.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any


@contextmanager
def training_limits() -> Iterator[None]:
    """How every model of a training is fitted: BLAS on one thread, UserWarnings silenced.

    The pipeline trains under it, and so does the tabular child, so the child's
    results are the ones this process would give.

    Yields
    ------
    None
        The block runs inside.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


class TabularProcess:
    """A child process that runs :func:`training.tabular_stage.train_tabular_stage` once.

    :meth:`start` starts it; :meth:`train` sends the inputs and waits for the
    result (or the child's error, raised here); :meth:`stop` ends it early.

    Parameters
    ----------
    in_process
        Train in the calling thread instead, with the same limits (no child).
        None: only where the child cannot be started this way (not POSIX:
        the socket is handed down with ``pass_fds``).

    Attributes
    ----------
    process
        The child (``subprocess.Popen``), once started; None in process.
    """

    def __init__(self, in_process: bool | None = None) -> None:
        self.in_process = in_process
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self._local = False

    def start(self) -> TabularProcess:
        """Start the child (it imports kizuna, then waits for its inputs).

        Returns
        -------
        TabularProcess
        """
        in_process = os.name != "posix" if self.in_process is None else self.in_process
        if in_process:
            self._local = True
            return self
        ours, theirs = socket.socketpair()
        # The child imports kizuna from where this process does, installed or not.
        path = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        theirs.close()  # the child holds its own copy: its exit closes the pair
        self.conn = Connection(ours.detach())
        return self

    def train(self, *args: Any) -> Any:
        """``train_tabular_stage(*args)`` in the child; its result, or its error raised here.

        Parameters
        ----------
        *args
            The arguments of ``train_tabular_stage``.

        Returns
        -------
        Any
            ``train_tabular_stage``'s result.

        Raises
        ------
        Exception
            The child's own error (a :class:`KizunaInputError` stays one, so
            the CLI reports it as a user error), its traceback as a note; a
            ``RuntimeError`` when the child ended without an answer.
        """
        if self._local:
            from kizuna.training.tabular_stage import train_tabular_stage

            with training_limits():
                return train_tabular_stage(*args)
        if self.conn is None or self.process is None:
            raise RuntimeError("TabularProcess.train before start")
        try:
            self.conn.send(args)
            status, value = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.wait()
            raise RuntimeError(
                "the process training churn, LTV and uplift ended without a result "
                f"(exit code {code}; a negative code is the signal that ended it, "
                "e.g. -9 when the system ran out of memory)"
            ) from None
        finally:
            self.conn.close()
        self.process.wait()
        if status == "error":
            raise value
        return value

    def stop(self) -> None:
        """End the child if it is still running (unused, or the training failed or was interrupted).

        A thread waiting in :meth:`train` then gets a ``RuntimeError``.
        """
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait()


def serve(conn: Connection) -> None:
    """The child's main: import, receive the inputs, train, send the answer.

    The answer is ``("ok", result)`` or ``("error", exception)``. The imports
    come first, while the parent is still loading its data.

    Parameters
    ----------
    conn
        The connection to the parent.
    """
    # Ctrl-C reaches the whole process group: the parent handles it and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    failed: BaseException | None = None
    try:
        from kizuna.training.tabular_stage import train_tabular_stage
    except Exception as exc:  # noqa: BLE001 - reported once the parent asks
        failed = exc
    try:
        args = conn.recv()
    except EOFError:  # the parent ended, or did not need this process
        return
    try:
        if failed is not None:
            raise failed
        with training_limits():
            answer: tuple[str, Any] = ("ok", train_tabular_stage(*args))
    except Exception as exc:  # noqa: BLE001 - every error goes back to the parent
        answer = ("error", portable_error(exc))
    try:
        conn.send(answer)
    except Exception as exc:  # noqa: BLE001 - a result that does not pickle
        conn.send(("error", portable_error(exc)))
    finally:
        conn.close()


def portable_error(exc: BaseException) -> BaseException:
    """``exc`` with its traceback as a note if it survives pickling, else a ``RuntimeError`` of it.

    A traceback does not cross processes; the note keeps where the error was
    raised for a developer, while the message (what the CLI prints) is unchanged.

    Parameters
    ----------
    exc
        The child's error.

    Returns
    -------
    BaseException
    """
    where = "".join(traceback.format_exception(exc))
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception type may fail to rebuild
        return RuntimeError(f"{type(exc).__name__} in the tabular process:\n{where}")
    copy.add_note(f"raised in the tabular process:\n{where}")
    return copy


def main(argv: list[str] | None = None) -> None:
    """``python -m kizuna.training.tabular_process FD``: serve on the socket ``FD``.

    Parameters
    ----------
    argv
        The command line, or None for ``sys.argv``.
    """
    serve(Connection(int((sys.argv[1:] if argv is None else argv)[0])))


if __name__ == "__main__":
    main()

"""Writing an output without ever leaving half of it: a temporary sibling, renamed over it.

A command that opens its target and then fills it leaves a truncated or empty
file over the last good one when it is killed, fails part-way or fills the
disk. Every file or folder output goes through :func:`replacing` instead: the
writer fills a temporary name beside the target (``.tmp-<random>.<name>``: in
the same folder, so on the same file system, and ending as the target does, so
that a writer which reads the compression or format from the name reads the
same), and only a complete result is renamed over the target. On any failure,
a Ctrl-C or a SIGTERM included, the temporary is removed and the old output
stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def temp_sibling(target: Path, kind: str = "tmp") -> Path:
    """A new hidden name beside ``target``, ending as it does: ``.<kind>-<random>.<name>``.

    Parameters
    ----------
    target
        The file to be replaced.
    kind
        A word in the temporary's name.

    Returns
    -------
    pathlib.Path
        Not yet created.
    """
    return target.with_name(f".{kind}-{secrets.token_hex(4)}.{target.name}")


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``target`` only if the block succeeds.

    Parameters
    ----------
    target
        The output file or folder. A symbolic link is replaced where it points.
        Its folder is created if missing.

    Yields
    ------
    Path
        A path that does not exist yet, beside ``target``: the block writes a
        file there (it takes the mode of the file it replaces), or a folder,
        which replaces a folder (the old one is removed only once the new one
        is in its place). A file never replaces a folder, nor a folder a file.

    Notes
    -----
    An ``OSError`` that names the temporary (a full disk, a folder in the way)
    is raised naming ``target``, the path the user gave.
    """
    final = Path(os.path.realpath(target))
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_sibling(final)
    try:
        yield temp
        _swap(temp, final)
    except BaseException as exc:
        _remove(temp)
        if isinstance(exc, OSError) and exc.filename is not None:
            if os.fspath(exc.filename) == str(temp):
                exc.filename = str(target)
        raise


@contextlib.contextmanager
def replacing_all(*targets: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """:func:`replacing` for several outputs: none is replaced unless all are written.

    Parameters
    ----------
    *targets
        The output paths.

    Yields
    ------
    list of Path
        One temporary per target, in order; all are renamed over their targets
        once the block succeeds, all removed if it fails.
    """
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(replacing(target)) for target in targets]


def _swap(temp: Path, final: Path) -> None:
    """Move the finished ``temp`` into place: a file at once, a folder by two renames."""
    if not (temp.is_dir() and final.is_dir()):
        if temp.is_file() and final.is_file():
            with contextlib.suppress(OSError):  # the old file's readers keep their access
                shutil.copymode(final, temp)
        os.replace(temp, final)
        return
    old = temp_sibling(final, "old")
    os.rename(final, old)
    try:
        os.rename(temp, final)
    except BaseException:
        os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a temporary file or folder, if the writer got as far as making it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()

"""A class-data archive for the local-mode JVM (the JDK's class-data sharing).

Spark's JVM loads and verifies thousands of classes from pyspark's jars, at its
start and through a run. The first local-mode run dumps the classes it loaded
into an archive when its JVM exits (``-XX:ArchiveClassesAtExit``); later runs
map that archive (``-XX:SharedArchiveFile``) instead of loading the classes
again. Measured on ``kizuna features`` of 10M lines (BENCHMARKS.md, eleventh
session): Spark started 1.6-2.5 s sooner and read its input 0.2-2.3 s sooner,
and a run took about 8% fewer CPU-seconds.

An archive belongs to one Java and one set of pyspark jars: its name carries a
digest of both, so another Java or pyspark makes its own. Each JVM dumps into a
file of its own (``*.part``); a later run checks a finished dump (the JVM writes
the archive's header last, so a dump cut short has no header) by starting a
JVM on it once, and only then moves it into place. An archive that fails that
check is deleted, so a broken file never reaches Spark's JVM.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

#: The first bytes of a finished dynamic archive (``CDS_DYNAMIC_ARCHIVE_MAGIC``, little-endian).
ARCHIVE_MAGIC = bytes.fromhex("a8ab0bf0")
#: A dump younger than this may still be being written.
SETTLE_SECONDS = 5.0
#: An archive of another Java or pyspark unused this long is deleted (each is ~200 MB).
STALE_SECONDS = 30 * 86400
#: CDS's own messages (an archive made by another build is skipped with a warning).
QUIET = "-Xlog:disable -Xlog:all=error:stderr"


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/kizuna/spark-classes``, else ``~/.cache/kizuna/spark-classes``.

    Returns
    -------
    pathlib.Path
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kizuna" / "spark-classes"


def java_binary() -> Path | None:
    """The ``java`` Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the one on PATH.

    Returns
    -------
    pathlib.Path or None
    """
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).is_file():
        return None
    return Path(found).resolve()


def archive_key(java: Path, jars: Path) -> str:
    """A digest of the Java build and the jars on Spark's class path (names, sizes, times).

    Parameters
    ----------
    java
        The ``java`` executable.
    jars
        pyspark's jars folder.

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    files = [java, *sorted((java.parent.parent / "lib" / "server").glob("libjvm.*"))]
    files += sorted(jars.glob("*.jar"))
    for file in files:
        stat = file.stat()
        digest.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def archive_options(folder: Path) -> str:
    """The JVM options that map this Java and pyspark's archive, or dump it at exit.

    Empty when there is no ``java`` or pyspark's jars cannot be found (Spark
    then reports the problem itself) or ``folder`` cannot be written.

    Parameters
    ----------
    folder
        Where the archive lives.

    Returns
    -------
    str
    """
    import pyspark

    java = java_binary()
    jars = Path(pyspark.__file__).parent / "jars"
    if java is None or not jars.is_dir():
        return ""
    key = archive_key(java, jars)
    final = folder / f"spark-{key}.jsa"
    if not final.is_file():
        _promote_a_dump(java, folder, key, final)
    if final.is_file():
        _mark_used(final)
        _delete_stale(folder, keep=key)
        return f"-XX:SharedArchiveFile={final} {QUIET}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ""
    part = folder / f"spark-{key}.{uuid.uuid4().hex}.part"
    return f"-XX:ArchiveClassesAtExit={part} {QUIET}"


def _promote_a_dump(java: Path, folder: Path, key: str, final: Path) -> None:
    """Move the first finished dump that a JVM starts on into ``final``; delete bad ones."""
    now = time.time()
    for part in sorted(folder.glob(f"spark-{key}.*.part")):
        try:
            if now - part.stat().st_mtime < SETTLE_SECONDS:
                continue  # perhaps still being written
            with part.open("rb") as file:
                finished = file.read(len(ARCHIVE_MAGIC)) == ARCHIVE_MAGIC
            if finished and _starts_on(java, part):
                os.replace(part, final)
                return
            part.unlink()
        except OSError:
            continue  # another run moved or deleted it


def _mark_used(archive: Path) -> None:
    """Set the archive's modification time to now: its last use, for :func:`_delete_stale`."""
    try:
        os.utime(archive)
    except OSError:
        pass  # a read-only cache folder: the archive is still usable


def _delete_stale(folder: Path, keep: str) -> None:
    """Delete archives and dumps of other keys not used for :data:`STALE_SECONDS`,
    and this key's finished dumps, which its archive in place makes useless.

    Another venv on the same machine keeps its own archive in use (its runs
    refresh the time), so only those of uninstalled Javas and pysparks go. A
    dump of this key is left by a run that started while another JVM was still
    dumping (both dump; one is promoted).
    """
    now = time.time()
    for path in folder.glob("spark-*"):
        own = path.name.startswith(f"spark-{keep}.")
        if own and path.suffix != ".part":
            continue
        try:
            if now - path.stat().st_mtime > (SETTLE_SECONDS if own else STALE_SECONDS):
                path.unlink()
        except OSError:
            continue  # another run deleted it, or the folder is read-only


def _starts_on(java: Path, archive: Path) -> bool:
    """Whether a JVM starts and exits cleanly with ``archive`` mapped."""
    command = [str(java), f"-XX:SharedArchiveFile={archive}", "-Xlog:disable", "-version"]
    command[1:1] = ["-XX:ErrorFile=/dev/null", "-XX:-CreateCoredumpOnCrash"]  # no litter
    try:
        done = subprocess.run(command, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0

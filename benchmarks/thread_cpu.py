"""Where a command's CPU time goes, by process and thread name (Linux ``/proc``).

Runs the command, reads the CPU time of every thread of it and of its
descendants every 0.25 s, and prints the totals by kind of process (the
JVM, Spark's Python workers, other Python) and by thread name, digits
folded (``C2 CompilerThre`` is the JIT, ``VM Thread`` the serial GC,
``Executor task ...`` Spark's task threads, ``Thread-N`` the py4j threads
that run the driver's calls). For example::

    .venv/bin/python benchmarks/thread_cpu.py -- .venv/bin/kizuna features \\
        -c SHOP/shop.yaml --as-of 2024-10-01 --horizon 90 --engine spark --out /tmp/out

A thread's last reading before it ends is what counts, so a thread that
lives less than 0.25 s is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from each process's parent id)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def process_kind(pid: int) -> str:
    """``jvm``, ``python worker`` (Spark's), ``python`` or the program's name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    name = os.path.basename(argv[0].decode(errors="replace")) if argv and argv[0] else "?"
    if name == "java":
        return "jvm"
    if name.startswith("python"):
        text = b" ".join(argv)
        return "python worker" if b"pyspark" in text or b"spark_daemon" in text else "python"
    return name


def read_threads(pid: int, kind: str, seen: dict) -> None:
    """Record the CPU seconds of each thread of ``pid`` in ``seen``."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seen[(pid, tid)] = (
            kind,
            re.sub(r"\d+", "#", name),
            (int(fields[11]) + int(fields[12])) / TICK,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict = {}
    while proc.poll() is None:
        for pid in descendants(proc.pid):
            # Read each time: a launcher script becomes the JVM when it execs it.
            read_threads(pid, process_kind(pid), seen)
        time.sleep(0.25)
    wall = time.monotonic() - start
    by_kind: Counter = Counter()
    by_thread: Counter = Counter()
    for kind, name, cpu in seen.values():
        by_kind[kind] += cpu
        by_thread[(kind, name)] += cpu
    print(f"exit {proc.returncode}, wall {wall:.1f} s, CPU {sum(by_kind.values()):.1f} s")
    print("| process | CPU s |\n|---|---:|")
    for kind, cpu in by_kind.most_common():
        print(f"| {kind} | {cpu:.1f} |")
    print("\n| process | thread | CPU s |\n|---|---|---:|")
    for (kind, name), cpu in by_thread.most_common(12):
        print(f"| {kind} | {name} | {cpu:.1f} |")


if __name__ == "__main__":
    main()

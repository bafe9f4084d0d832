"""Where a Spark run's wall time goes, from its event log: jobs, stages, idle task slots.

Turn the log on for a run (uncompressed, one file), e.g. in the experiment's
``spark.conf``: ``spark.eventLog.enabled: 'true'``, ``spark.eventLog.dir: /tmp/ev``,
``spark.eventLog.compress: 'false'``, ``spark.eventLog.rolling.enabled: 'false'``; then::

    .venv/bin/python benchmarks/spark_timeline.py /tmp/ev/local-1796121676402

Prints each job's start (seconds from the application's start) and duration with
its stages (tasks, summed task time, the longest task, executor CPU), the time
with 0, 1 and 2+ tasks running, and the gaps of more than 0.2 s with no task
running (the driver working, or waiting, while the slots idle).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def read_log(path: Path) -> dict:
    """Application start, jobs, stages and tasks of one event log (file or rolled folder)."""
    files = sorted(path.glob("events_*")) if path.is_dir() else [path]
    log: dict = {"jobs": {}, "stages": {}, "tasks": defaultdict(list), "start": None}
    for file in files:
        for line in file.open():
            event = json.loads(line)
            kind = event["Event"]
            if kind == "SparkListenerApplicationStart":
                log["start"] = event["Timestamp"]
            elif kind == "SparkListenerJobStart":
                site = event.get("Properties", {}).get("callSite.short", "")
                stages = [s["Stage ID"] for s in event["Stage Infos"]]
                log["jobs"][event["Job ID"]] = [event["Submission Time"], None, site, stages]
            elif kind == "SparkListenerJobEnd":
                log["jobs"][event["Job ID"]][1] = event["Completion Time"]
            elif kind == "SparkListenerStageCompleted" and "Submission Time" in event["Stage Info"]:
                info = event["Stage Info"]
                log["stages"][info["Stage ID"]] = (info["Submission Time"], info["Completion Time"])
            elif kind == "SparkListenerTaskEnd":
                info, metrics = event["Task Info"], event.get("Task Metrics", {})
                cpu = metrics.get("Executor CPU Time", 0) / 1e9
                log["tasks"][event["Stage ID"]].append(
                    (info["Launch Time"], info["Finish Time"], cpu)
                )
    return log


def slots_in_use(tasks: list[tuple], first: int, last: int) -> dict[int, float]:
    """Seconds between ``first`` and ``last`` (ms) with 0, 1 and 2 or more tasks running."""
    edges = sorted([(a, 1) for a, _, _ in tasks] + [(b, -1) for _, b, _ in tasks])
    running, previous, seconds = 0, first, {0: 0.0, 1: 0.0, 2: 0.0}
    for at, step in edges:
        seconds[min(running, 2)] += (at - previous) / 1000
        previous, running = at, running + step
    seconds[0] += (last - previous) / 1000
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="an uncompressed Spark event log")
    log = read_log(parser.parse_args().log)
    start, jobs = log["start"], log["jobs"]
    tasks = [t for stage in log["tasks"].values() for t in stage]
    first = min(j[0] for j in jobs.values())
    last = max(j[1] for j in jobs.values())
    print(f"{len(jobs)} jobs; first at {(first - start) / 1000:.1f} s, last ends at "
          f"{(last - start) / 1000:.1f} s; task time {sum(b - a for a, b, _ in tasks) / 1000:.1f} s")  # fmt: skip
    busy = slots_in_use(tasks, first, last)
    print("seconds with 0 / 1 / 2+ tasks running: " + " / ".join(f"{busy[k]:.1f}" for k in busy))
    for job, (begin, end, site, stages) in sorted(jobs.items()):
        parts = []
        for stage in stages:
            if stage not in log["stages"]:
                continue  # skipped: its output was already there
            a, b = log["stages"][stage]
            run = log["tasks"][stage]
            total = sum(t[1] - t[0] for t in run) / 1000
            longest = max((t[1] - t[0] for t in run), default=0) / 1000
            parts.append(f"[stage {stage}: {(b - a) / 1000:.1f} s, {len(run)} tasks, "
                         f"sum {total:.1f}, max {longest:.1f}, cpu {sum(t[2] for t in run):.1f}]")  # fmt: skip
        place = site.rsplit("/", 1)[-1][:36]
        print(f"job {job:3d} {(begin - start) / 1000:7.1f} +{(end - begin) / 1000:6.1f} s "
              f"{place:36s} {' '.join(parts)}")  # fmt: skip
    gaps, reached = [], start
    for a, b, _ in sorted(tasks):
        if a > reached + 200:
            gaps.append(f"{(reached - start) / 1000:.1f}+{(a - reached) / 1000:.1f}")
        reached = max(reached, b)
    print("gaps over 0.2 s with no task running (at+length, s): " + ", ".join(gaps))


if __name__ == "__main__":
    main()

"""Benchmark: how grading a class scales with its size on one machine.

    .venv/bin/python bench/grade_scale.py [--sizes 100,300,1000] [--jobs 2] [--chapter 01]

Classes of each size come from the class benchmark's generator (bench/grade_class.py:
correct, wrong and broken notebooks, infinite loops included, in a fixed mix), and each is
graded from scratch by `python -m autograder grade --jobs J` in a subprocess. Printed as
a table: wall time, time per notebook, notebooks per minute, and peak memory of the whole
grading process tree (the grader, its workers, their fork servers and every student
process), sampled every 0.2 s from /proc: the sum of PSS (shared pages counted once, in
shares) and the largest single process's RSS.

A report, not a test: it exits 0 whatever the numbers. Results kept in
bench/results/grade_scale.txt.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grade_class  # noqa: E402  (the class generator)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Memory:
    """Peak memory of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.peak_pss_kb = self.peak_rss_kb = self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            tree, todo, pids = _children(), [self.pid], []
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo += tree.get(pid, [])
            pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
            rss = max((_kb(f"/proc/{p}/status", "VmRSS:") for p in pids), default=0)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._thread.join()


def grade(folder: Path, out: Path, jobs: int) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out),
                             "--jobs", str(jobs), "--force"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    memory = Memory(proc.pid)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    memory.stop()
    graded = len(list(out.glob("*/results.json")))
    if proc.returncode != 0:
        print(stdout[-1500:], stderr[-1500:])
    return {"seconds": seconds, "graded": graded, "pss_mb": memory.peak_pss_kb / 1024,
            "rss_mb": memory.peak_rss_kb / 1024, "processes": memory.peak_processes,
            "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,300,1000", help="class sizes (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="the grader's --jobs (default: %(default)s)")
    parser.add_argument("--chapter", default="01", help="chapter of the class (default: %(default)s)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    chapter = grade_class.select_chapters(args.chapter)[0]
    name = grade_class.stem(chapter)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmp = Path(tmp)
        cls = grade_class.make_class(chapter, tmp / "gen", students=max(sizes))
        kinds = {c: sum(s.category == c for s in cls.submissions) for c in grade_class.CATEGORIES}
        for size in sizes:
            sub = grade_class.ChapterClass(cls.chapter, cls.source, cls.released, cls.submissions[:size])
            folder = tmp / f"class{size}"
            grade_class.write_submissions(sub, folder)
            result = grade(folder, tmp / f"out{size}", args.jobs)
            rows.append((size, result))
            print(f"  {size} notebooks: {result['seconds']:.1f} s", flush=True)
    print(f"\nGrading one class of {name} with `python -m autograder grade --jobs {args.jobs}` "
          f"on {os.cpu_count()} cores (mix of the largest class: {kinds}; infinite loops "
          f"cost their time limits):")
    print("| notebooks | graded | wall time (s) | per notebook (s) | notebooks per minute | "
          "peak memory, all processes (PSS, MB) | largest process (RSS, MB) | processes at peak | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in rows:
        print(f"| {size} | {r['graded']} | {r['seconds']:.1f} | {r['seconds'] / size:.3f} | "
              f"{60 * size / r['seconds']:.0f} | {r['pss_mb']:.0f} | {r['rss_mb']:.0f} | "
              f"{r['processes']} | {r['load']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

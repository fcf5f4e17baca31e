"""Benchmark: grade the same synthetic class with our grader and with nbgrader's
`autograde`, per chapter, in one run, and print the throughput ratio.

    make bench-setup                      # once: nbgrader 0.9.6 in .cache/bench-venv
    .venv/bin/python bench/grade_class.py [--chapters 01,03] [--students 40] [--jobs 2]

The class (at least 40 submissions per chapter, for every chapter whose solutions notebook
exists): correct notebooks (the solution and the differently-written VARIANTS of the
chapter's tests), wrong ones (the tests' MUTANTS) and broken ones (the unfinished released
notebook, not JSON, a missing function, an exception at import, an infinite loop).

The peer is a real nbgrader assignment built from our solution notebook and public
fixtures: solution cells carry nbgrader's metadata, and each exercise's `check(...)` cell
becomes a locked, autograded test cell that runs the student's function on the stored
cases and asserts the outputs match with np.allclose. Every student notebook comes from
that assignment (so it carries nbgrader's cell metadata, as a real class's would) and the
same files go to both graders. nbgrader runs from its own venv through its command line;
without that venv the peer is skipped with a message. Nothing is downloaded here.

A report, not a test: it exits 0 whatever the numbers.
"""
from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BENCH_VENV = ROOT / ".cache" / "bench-venv"
for p in (str(ROOT), str(TESTS)):
    if p not in sys.path:
        sys.path.insert(0, p)

from autograder import fixtures  # noqa: E402
from autograder.exercises import CHAPTERS  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402
from conftest import write_notebook  # noqa: E402

CATEGORIES = ("correct", "wrong", "broken")


# -- the nbgrader assignment -----------------------------------------------------------------

def stem(chapter) -> str:
    return Path(chapter.NOTEBOOK).stem


def _defined(source: str) -> str | None:
    """The first function or class a piece of code defines at top level."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    return next((s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.ClassDef))), None)


def _nbgrader_meta(grade_id: str, solution: bool, points: float | None = None) -> dict:
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": points is not None,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _simple(ex) -> bool:
    """Called on plain arrays and returning plain values: a test cell can say it directly."""
    return ex.call_fn is None and ex.checks_fn is None and ex.inputs_fn is None


def autograded_cell(chapter, ex) -> str:
    """An autograded test cell: the stored public cases, outputs compared with np.allclose
    (what a typical nbgrader assignment asserts)."""
    npz = stem(chapter) + ".npz"
    head = f"# Autograded test of {ex.name} ({ex.max_points:g} points)\n"
    if ex.checks_fn is not None:   # random initialisers and the like: their properties
        return head + textwrap.dedent(f"""\
            from autograder.exercise import LocalStudent
            from autograder.exercises import chapter_named
            _ex = next(e for e in chapter_named({chapter.NOTEBOOK!r}).EXERCISES if e.name == {ex.name!r})
            _failed = [r.message for r in _ex.checks_fn(_ex, LocalStudent(globals()), 1000) if not r.passed]
            assert not _failed, _failed
            """)
    cases = len(ex.public_dims)
    compare = "".join(
        f"    assert np.shape(_got[{n!r}]) == _fx[f'{ex.name}.{{_k}}.out.{n}'].shape\n"
        f"    assert np.allclose(_got[{n!r}], _fx[f'{ex.name}.{{_k}}.out.{n}'])\n" for n in ex.axes)
    if not _simple(ex):            # objects built first (a cell class, run_cell's cells)
        return head + textwrap.dedent(f"""\
            from autograder.exercise import LocalStudent, run
            from autograder.exercises import chapter_named
            _ex = next(e for e in chapter_named({chapter.NOTEBOOK!r}).EXERCISES if e.name == {ex.name!r})
            _fx = np.load({npz!r})
            for _k in range({cases}):
                _p = f'{ex.name}.{{_k}}.in.'
                _got, _ = run(_ex, LocalStudent(globals()), {{k[len(_p):]: _fx[k] for k in _fx.files if k.startswith(_p)}})
                for _n in {tuple(ex.axes)!r}:   # what this case returns (e.g. one state or two)
                    if f'{ex.name}.{{_k}}.out.{{_n}}' in _fx.files:
                        assert np.shape(_got[_n]) == _fx[f'{ex.name}.{{_k}}.out.{{_n}}'].shape
                        assert np.allclose(_got[_n], _fx[f'{ex.name}.{{_k}}.out.{{_n}}'])
            """)
    lines = [f"_fx = np.load({npz!r})", f"for _k in range({cases}):"]
    lines += [f"    {a.name} = _fx[f'{ex.name}.{{_k}}.in.{a.name}']" for a in ex.all_args]

    def call(name, args):
        return f"{name}({', '.join(args)})"
    if ex.forward is not None:
        fwd = ex.forward
        lines.append(f"    _cache = {call(fwd.name, [a.name for a in fwd.args])}"
                     f"[{fwd.returns.index('cache')}]")
        value = call(ex.name, [d.name for d in ex.douts] + ["_cache"])
    else:
        value = call(ex.name, [a.name for a in ex.args])
    if len(ex.returns) == 1:
        lines.append(f"    _got = {{{ex.returns[0]!r}: {value}}}")
    else:
        lines.append(f"    _got = dict(zip({ex.returns!r}, {value}))")
    return head + "\n".join(lines) + "\n" + compare


def nbgrader_source(chapter, folder: Path) -> Path:
    """Our solution notebook as an nbgrader source notebook, with the fixtures beside it."""
    nb = json.loads((ROOT / "solutions" / chapter.NOTEBOOK).read_text())
    by_name = {ex.name: ex for ex in chapter.EXERCISES}
    tested, cells = set(), []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in src:
            cell = {**cell, "metadata": {**cell["metadata"], "nbgrader": _nbgrader_meta(
                f"{_defined(src) or len(cells)}_solution", solution=True)}}
        elif cell["cell_type"] == "code" and src.lstrip().startswith("check("):
            name = ast.parse(src).body[0].value.args[0].id
            ex = by_name[name]
            tested.add(name)
            cell = {**cell, "source": autograded_cell(chapter, ex), "metadata": {
                "nbgrader": _nbgrader_meta(f"test_{name}", solution=False, points=ex.max_points)}}
        elif cell["cell_type"] == "code" and "from autograder import check" in src:
            # `pass`, not "": the import may sit in the Setup cell's try/except guard
            cell = {**cell, "source": src.replace("from autograder import check", "pass").strip() + "\n"}
        cells.append(cell)
    for ex in chapter.EXERCISES:   # an exercise without a check cell still gets its test
        if ex.name not in tested:
            cells.append({"cell_type": "code", "execution_count": None, "outputs": [],
                          "source": autograded_cell(chapter, ex), "metadata": {
                              "nbgrader": _nbgrader_meta(f"test_{ex.name}", False, ex.max_points)}})
    nb["cells"] = cells
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixtures.path_for(chapter), folder / (stem(chapter) + ".npz"))
    path = folder / chapter.NOTEBOOK
    path.write_text(json.dumps(nb, indent=1))
    return path


# -- the class ----------------------------------------------------------------------------------

def _load_test_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mutant_sources(module, table: dict):
    """(label, source) for each mutant of a test module's *MUTANTS table, in the layouts the
    tests use: label -> (source, ...) or source; exercise -> {label: (source, hint)}
    (chapter 5); label -> (changes, hint) applied to the module's `glue(kind, **changes)`
    template for each of its KINDS (chapter 6)."""
    for label, entry in table.items():
        if isinstance(entry, dict):
            yield from ((f"{label}: {k}", src) for k, src in _mutant_sources(module, entry))
            continue
        parts = entry if isinstance(entry, tuple) else (entry,)
        src = next((p for p in parts if isinstance(p, str) and _defined(p)), None)
        if src is not None:
            yield label, src
        elif parts and isinstance(parts[0], dict) and hasattr(module, "glue"):
            for kind in getattr(module, "KINDS", ()):
                yield f"{kind}: {label}", module.glue(kind, **parts[0])


def variants_and_mutants(chapter) -> tuple[dict, dict]:
    """(variants, mutants) of a chapter, each label -> {function: new source}, collected from
    every tests/test_*.py whose SOLUTION is the chapter's notebook (its *VARIANTS and
    *MUTANTS dicts, whatever their tuple layout: the target is what the source defines)."""
    variants, mutants = {}, {}
    for path in sorted(TESTS.glob("test_*.py")):
        text = path.read_text()
        if "MUTANTS" not in text and "VARIANTS" not in text:
            continue
        module = _load_test_module(path)
        if Path(str(getattr(module, "SOLUTION", ""))).name != chapter.NOTEBOOK:
            continue
        for attr, table in vars(module).items():
            if not isinstance(table, dict):
                continue
            if attr.endswith("VARIANTS"):
                for label, v in table.items():
                    if hasattr(module, "glue") and not (v and all(map(_defined, v.values()))):
                        # changes to the module's glue template (chapter 6), for each kind
                        for kind in getattr(module, "KINDS", ()):
                            src = module.glue(kind, **v)
                            variants[f"variant: {kind}: {label}"] = {_defined(src): src}
                    else:
                        variants[f"variant: {label}"] = dict(v)
            elif attr.endswith("MUTANTS"):
                for label, src in _mutant_sources(module, table):
                    mutants[f"mutant: {label}"] = {_defined(src): src}
    return variants, mutants


@dataclass
class Submission:
    student: str
    category: str        # correct | wrong | broken
    label: str
    text: str            # the notebook file's contents


@dataclass
class ChapterClass:
    chapter: object
    source: Path                          # nbgrader source notebook (with solutions)
    released: Path | None                 # what students got (None: nbgrader not run)
    submissions: list[Submission] = field(default_factory=list)


def _replace_in_cell(nb: dict, name: str, old: str, new: str) -> dict:
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and _defined(src) == name and old in src:
            cell["source"] = src.replace(old, new, 1)
            return nb
    raise ValueError(f"no cell defines {name} with {old!r}")


def broken_kinds(chapter, source: Path, released_text: str) -> list[tuple[str, str]]:
    """(label, notebook text) for each kind of broken submission."""
    base = json.loads(source.read_text())
    plain = [ex for ex in chapter.EXERCISES if _simple(ex)] or list(chapter.EXERCISES)
    loop_in = plain[min(1, len(plain) - 1)].name
    missing = chapter.EXERCISES[-1].name

    def edited(fn) -> str:
        nb = json.loads(json.dumps(base))
        return json.dumps(fn(nb))

    def no_function(nb):
        nb["cells"] = [c for c in nb["cells"]
                       if not (c["cell_type"] == "code" and _defined("".join(c["source"])) == missing)]
        return nb

    def bad_import(nb):
        k = next(i for i, c in enumerate(nb["cells"]) if "import numpy as np" in "".join(c["source"]))
        nb["cells"].insert(k + 1, {"cell_type": "code", "execution_count": None, "metadata": {},
                                   "outputs": [], "source": "import rnn_utils  # only on the student's laptop\n"})
        return nb

    def endless(nb):
        cell = next(c for c in nb["cells"] if _defined("".join(c["source"])) == loop_in)
        src = "".join(cell["source"])
        line = next(ln for ln in src.splitlines() if "### BEGIN SOLUTION" in ln)
        indent = line[:len(line) - len(line.lstrip())]
        return _replace_in_cell(nb, loop_in, line, f"{line}\n{indent}while True:\n{indent}    pass")

    return [("unfinished: the released notebook", released_text),
            ("not JSON: cut off while saving", source.read_text()[: len(source.read_text()) // 3]),
            (f"missing function: {missing}", edited(no_function)),
            ("exception at import: a module only on the student's machine", edited(bad_import)),
            (f"infinite loop in {loop_in}", edited(endless))]


def make_class(chapter, folder: Path, students: int = 40, released: Path | None = None) -> ChapterClass:
    """The chapter's synthetic class: every kind once (correct, wrong, broken), then
    correct and wrong ones again until there are `students` (fewer: taken in turn from
    each category so the mix stays)."""
    source = nbgrader_source(chapter, folder / "source")
    released_text = released.read_text() if released else _stub_text(chapter, source)
    variants, mutants = variants_and_mutants(chapter)
    scratch = folder / "scratch.ipynb"
    kinds = {"correct": [("solution", source.read_text())], "wrong": [], "broken": []}
    for category, table in (("correct", variants), ("wrong", mutants)):
        for label, replace in table.items():
            try:
                text = write_notebook(scratch, replace, base=source).read_text()
            except AssertionError as e:   # a test's mutant that replaces more than defs
                print(f"  {stem(chapter)}: {label} left out of the class ({e})")
                continue
            kinds[category].append((label, text))
    kinds["broken"] = broken_kinds(chapter, source, released_text)
    scratch.unlink(missing_ok=True)
    if students >= sum(map(len, kinds.values())):
        order = [(c, k) for c in CATEGORIES for k in kinds[c]]
        refill = [(c, k) for c in ("correct", "wrong") for k in kinds[c]]
        while len(order) < students:
            order.append(refill[(len(order) - len(refill) - len(kinds["broken"])) % len(refill)])
    else:
        pools = [[(c, k) for k in kinds[c]] for c in CATEGORIES]
        order, i = [], 0
        while len(order) < students:
            pool = pools[i % 3]
            if pool:
                order.append(pool.pop(0))
            i += 1
    subs = [Submission(f"s{i:03d}", c, label, text) for i, (c, (label, text)) in enumerate(order)]
    return ChapterClass(chapter, source, released, subs)


def _stub_text(chapter, source: Path) -> str:
    """Without nbgrader: the released notebook as nbgrader's ClearSolutions writes it."""
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        while "### BEGIN SOLUTION" in src:
            start = src.index("### BEGIN SOLUTION")
            line_start = src.rfind("\n", 0, start) + 1
            indent = src[line_start:start]
            end = src.index("### END SOLUTION", start) + len("### END SOLUTION")
            src = (src[:line_start] + f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"
                   + src[end:])
        cell["source"] = src
    return json.dumps(nb, indent=1)


def write_submissions(cls: ChapterClass, folder: Path) -> None:
    """folder/<student>/<assignment>/<notebook>: nbgrader's submitted/ layout."""
    for s in cls.submissions:
        target = folder / s.student / stem(cls.chapter) / cls.chapter.NOTEBOOK
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(s.text)


# -- the two graders ------------------------------------------------------------------------

def run_ours(cls: ChapterClass, folder: Path, out: Path, jobs: int) -> dict:
    """`python -m autograder grade` in a subprocess (start-up included, as for nbgrader)."""
    write_submissions(cls, folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--out",
                           str(out), "--jobs", str(jobs), "--force"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    load = os.getloadavg()[0]
    scores, checks = {}, 0
    for s in cls.submissions:
        result = out / f"{s.student}__{stem(cls.chapter)}__{stem(cls.chapter)}" / "results.json"
        if result.exists():
            data = json.loads(result.read_text())
            scores[s.student] = (float(data["score"]), float(data["max_score"]))
            checks += len(data["tests"])
    if proc.returncode != 0 or len(scores) < len(cls.submissions):
        print(proc.stdout[-2000:], proc.stderr[-2000:])
    return {"seconds": seconds, "scores": scores, "checks": checks, "load": load}


def nbgrader_bin() -> Path | None:
    exe = BENCH_VENV / "bin" / "nbgrader"
    return exe if exe.exists() else None


def _nbgrader(course: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
           "PATH": f"{BENCH_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([str(nbgrader_bin()), *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=timeout)


def nbgrader_course(folder: Path, chapters: list, cell_timeout: float) -> Path:
    course = folder / "course"
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(textwrap.dedent(f"""\
        c = get_config()
        c.CourseDirectory.root = {str(course)!r}
        c.CourseDirectory.course_id = "lstm-bench"
        c.Execute.timeout = {int(cell_timeout)}
        """))
    return course


def release_nbgrader(course: Path, cls: ChapterClass) -> Path | None:
    """source/<assignment>/ -> `nbgrader generate_assignment` -> release/<assignment>/."""
    name = stem(cls.chapter)
    target = course / "source" / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(cls.source, target / cls.chapter.NOTEBOOK)
    shutil.copy(cls.source.parent / (name + ".npz"), target / (name + ".npz"))
    proc = _nbgrader(course, "generate_assignment", name, "--force")
    released = course / "release" / name / cls.chapter.NOTEBOOK
    if proc.returncode != 0 or not released.exists():
        print(f"nbgrader generate_assignment {name} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        return None
    return released


def run_nbgrader(course: Path, cls: ChapterClass) -> dict:
    name = stem(cls.chapter)
    write_submissions(cls, course / "submitted")
    start = time.perf_counter()
    proc = _nbgrader(course, "autograde", name, "--force")
    seconds = time.perf_counter() - start
    load = os.getloadavg()[0]
    _nbgrader(course, "export", "--to", str(course / f"grades_{name}.csv"), f"--assignment={name}")
    scores = {}
    export = course / f"grades_{name}.csv"
    if export.exists():
        for row in csv.DictReader(export.open()):
            if row["assignment"] == name:
                scores[row["student_id"]] = (float(row["raw_score"] or 0), float(row["max_score"] or 0))
    graded = {s.student for s in cls.submissions
              if (course / "autograded" / s.student / name / cls.chapter.NOTEBOOK).exists()}
    tests = sum(1 for c in json.loads(cls.source.read_text())["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    failed = [s.student for s in cls.submissions if s.student not in graded]
    return {"seconds": seconds, "scores": scores, "checks": tests * len(graded),
            "tests_per_notebook": tests, "failed": failed, "log": proc.stdout + proc.stderr,
            "returncode": proc.returncode, "load": load}


# -- the report -----------------------------------------------------------------------------

def _fraction(score) -> float | None:
    return None if score is None or not score[1] else score[0] / score[1]


def agreement(cls: ChapterClass, ours: dict, peer: dict | None) -> list[str]:
    lines = []
    for category in CATEGORIES:
        subs = [s for s in cls.submissions if s.category == category]
        o = [_fraction(ours["scores"].get(s.student)) or 0.0 for s in subs]
        line = (f"    {category:<8} n={len(subs):<3} ours: {sum(f == 1 for f in o)} full, "
                f"{sum(f == 0 for f in o)} zero, mean {sum(o) / max(len(o), 1):.0%}")
        if peer is not None:
            p = [_fraction(peer["scores"].get(s.student)) or 0.0 for s in subs]
            line += (f" | nbgrader: {sum(f == 1 for f in p)} full, {sum(f == 0 for f in p)} zero, "
                     f"mean {sum(p) / max(len(p), 1):.0%}")
        lines.append(line)
    if peer is None:
        return lines
    seen = set()
    for s in cls.submissions:
        if s.label in seen:
            continue
        seen.add(s.label)
        o, p = _fraction(ours["scores"].get(s.student)), _fraction(peer["scores"].get(s.student))
        o_full, p_full = (o or 0) == 1, (p or 0) == 1
        if o_full != p_full or ((o or 0) == 0) != ((p or 0) == 0):
            pt = "not graded" if p is None else f"{p:.0%}"
            lines.append(f"    differ: {s.label} ({s.category}): ours {o or 0:.0%}, nbgrader {pt}")
    return lines


def select_chapters(names: str | None) -> list:
    have = [c for c in CHAPTERS if (ROOT / "solutions" / c.NOTEBOOK).exists()]
    if not names:
        return have
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    return [c for c in have if any(stem(c) == w or stem(c).startswith(w) or stem(c)[3:] == w
                                   for w in wanted)]


def bench_chapter(chapter, name: str, tmp: Path, course, args, use_peer: bool):
    """Grade one chapter's class with ours, then with nbgrader: (table row, score details)."""
    released = None
    if use_peer:
        probe = nbgrader_source(chapter, tmp / "probe" / name)
        released = release_nbgrader(course, ChapterClass(chapter, probe, None))
    cls = make_class(chapter, tmp / "class" / name, args.students, released)
    print(f"{name}: {len(cls.submissions)} submissions; grading with ours "
          f"(--jobs {args.jobs})...", flush=True)
    ours = run_ours(cls, tmp / "ours" / name, tmp / "grades" / name, args.jobs)
    peer = None
    if use_peer and released is not None:
        print(f"{name}: grading with nbgrader autograde...", flush=True)
        peer = run_nbgrader(course, cls)
        if peer["failed"]:
            labels = sorted({s.label for s in cls.submissions if s.student in peer["failed"]})
            print(f"  nbgrader could not autograde {len(peer['failed'])}: {'; '.join(labels)}")
    return (name, cls, ours, peer), (name, agreement(cls, ours, peer))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", help="e.g. 01,03 or 01_rnn_review (default: every chapter "
                                           "whose solutions notebook exists)")
    parser.add_argument("--students", type=int, default=40, help="submissions per chapter (default: 40)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="our grader's --jobs (default: the number of cores)")
    parser.add_argument("--no-nbgrader", action="store_true", help="time our grader only")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    chapters = select_chapters(args.chapters)
    if not chapters:
        print("no chapter selected (or no solutions notebook)")
        return 0
    use_peer = not args.no_nbgrader and nbgrader_bin() is not None
    if not args.no_nbgrader and not use_peer:
        print(f"nbgrader is not installed in {os.path.relpath(BENCH_VENV, ROOT)}: run `make bench-setup` "
              "once (it installs nbgrader 0.9.6 from PyPI). Timing our grader alone.\n")
    cell_timeout = Limits.call_seconds
    rows, details = [], []
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        tmp = Path(args.keep).resolve() if args.keep else Path(tmp)
        course = nbgrader_course(tmp, chapters, cell_timeout) if use_peer else None
        for chapter in chapters:
            name = stem(chapter)
            try:
                row = bench_chapter(chapter, name, tmp, course, args, use_peer)
            except Exception as e:   # one chapter's failure must not lose the others' figures
                print(f"{name}: the benchmark failed: {type(e).__name__}: {e}")
                continue
            rows.append(row[0])
            details.append(row[1])
            print_table(rows[-1:], args.jobs, cell_timeout)
    print("\nAll chapters:")
    print_table(rows, args.jobs, cell_timeout)
    print("\nScores by kind of submission (full = full marks, zero = no points):")
    for name, lines in details:
        print(f"  {name}")
        print("\n".join(lines))
    return 0


def print_table(rows, jobs: int, cell_timeout: float) -> None:
    print(f"\nours: python -m autograder grade --jobs {jobs}; nbgrader 0.9.6: nbgrader autograde "
          f"(one kernel per notebook, cell timeout {cell_timeout:g} s = our per-call limit). "
          f"Checks: ours = CheckResults, nbgrader = test cells run; {os.cpu_count()} cores.")
    head = (f"| chapter | submissions | ours (s) | nbgrader (s) | throughput ratio | "
            f"checks ours | checks nbgrader | solution full marks | stub zero |")
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, cls, ours, peer in rows:
        sol = next(s.student for s in cls.submissions if s.label == "solution")
        stub = next(s.student for s in cls.submissions if s.label.startswith("unfinished"))
        o_sol, o_stub = _fraction(ours["scores"].get(sol)), _fraction(ours["scores"].get(stub))
        n = len(cls.submissions)
        if peer:
            p_sol, p_stub = _fraction(peer["scores"].get(sol)), _fraction(peer["scores"].get(stub))
            ratio = f"{peer['seconds'] / ours['seconds']:.1f}x"
            peer_s, peer_checks = f"{peer['seconds']:.1f}", str(peer["checks"])
            full = f"ours {'yes' if o_sol == 1 else 'NO'}, nbgrader {'yes' if p_sol == 1 else 'NO'}"
            zero = f"ours {'yes' if o_stub == 0 else 'NO'}, nbgrader {'yes' if p_stub == 0 else 'NO'}"
        else:
            ratio = peer_s = peer_checks = "-"
            full = f"ours {'yes' if o_sol == 1 else 'NO'}"
            zero = f"ours {'yes' if o_stub == 0 else 'NO'}"
        print(f"| {name} | {n} | {ours['seconds']:.1f} | {peer_s} | {ratio} | {ours['checks']} | "
              f"{peer_checks} | {full} | {zero} |")
    loads = [f"{name}: ours {o['load']:.1f}" + (f", nbgrader {p['load']:.1f}" if p else "")
             for name, _, o, p in rows]
    print("load average (1 min) at the end of each run, " + "; ".join(loads)
          + ": other work on the machine slows both graders")


if __name__ == "__main__":
    raise SystemExit(main())

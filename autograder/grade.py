"""Grade submitted notebooks against the reference solutions.

    python -m autograder grade submissions/ --out grades/

For each notebook: find the student's functions by parsing its cells (`notebook`), and
start one limited process with the student's definitions (`sandbox`; a new one after a
timeout or a crash), send it hidden inputs made at grading time, and compare what comes back
with the reference, here in the grader's process (`checks`). Results are written per
submission as soon as it is graded (`report`), so a crash or Ctrl-C loses nothing.
"""
from __future__ import annotations

import argparse
import difflib
import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from autograder import cascade, checks, report
from autograder.checks import CheckResult
from autograder.exercise import Exercise, run
from autograder.exercises import CHAPTERS, chapter_named, find
from autograder.fixtures import PUBLIC_SEED
from autograder.mistakes import book as mistakes_of
from autograder.notebook import NotebookError, Program, load_program
from autograder.reference import reference
from autograder.selfcheck import public_plan
from autograder.sandbox import (SECRET_PATHS, Limits, Sandbox, StudentError, Zygote,
                                readable_secrets)


@dataclass
class Graded:
    """One submission's grade."""
    path: str                                  # the notebook, as given
    key: str                                   # a unique name for its results folder
    chapter: object = None                     # the chapter module it was graded as
    results: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # notebook-level messages
    output: str = ""                           # what the student's code printed
    sha256: str = ""
    seconds: float = 0.0
    # for the instructor, not the student: what to fix on the grading machine
    grader_notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 2)

    @property
    def max_score(self) -> float:
        return float(sum(ex.max_points for ex in self.chapter.EXERCISES)) if self.chapter else 0.0

    def exercise_score(self, name: str) -> float:
        return round(sum(r.score for r in self.results if r.exercise == name), 2)


# The gradient check's inputs are the same for every submission: the reference's finite
# differences (most of a gradient check's time) are computed once per exercise and worker,
# not once per student. The values and edges checks keep inputs of the submission's own.
GRADCHECK_SEED = 200
FINITE_DIFFERENCES: dict = {}


def seed_for(digest: str, ex: Exercise) -> int:
    """Hidden cases differ between submissions but a regrade gives the same result."""
    return int(hashlib.sha256(f"{digest}:{ex.name}".encode()).hexdigest()[:8], 16)


def guess_chapter(path: Path, program: Program | None, chosen: str | None = None):
    """The chapter a notebook belongs to: given, by file name, or by what it defines."""
    if chosen:
        chapter = chapter_named(chosen if chosen.endswith(".ipynb") else chosen + ".ipynb")
        if chapter is None:
            raise SystemExit(f"unknown chapter {chosen!r}; known: "
                             f"{', '.join(c.NOTEBOOK[:-6] for c in CHAPTERS)}")
        return chapter
    for chapter in CHAPTERS:   # "01_...", or "alice_01_rnn_review.ipynb" from an LMS export
        if path.name.startswith(chapter.NOTEBOOK[:3]) or chapter.NOTEBOOK[:-6] in path.name:
            return chapter
    if program is not None:
        # the share of each chapter's exercises the notebook defines; on a tie the later
        # chapter wins, since a later chapter carries the functions of earlier ones
        overlap = [(sum(ex.name in program.defined for ex in c.EXERCISES) / len(c.EXERCISES), i, c)
                   for i, c in enumerate(CHAPTERS)]
        best = max(overlap, key=lambda t: t[:2])
        if best[0] > 0:
            return best[2]
    return CHAPTERS[0] if len(CHAPTERS) == 1 else None


def _all_zero(ex: Exercise, status: str, message: str) -> list[CheckResult]:
    return [CheckResult(ex.name, check, pts, 0.0, status, message) for check, pts in ex.points.items()]


def _missing_message(ex: Exercise, program: Program) -> str:
    near = difflib.get_close_matches(ex.name, list(program.defined) + list(program.unrun), n=1,
                                     cutoff=0.7)
    msg = f"`{ex.name}` is not defined in the notebook"
    if near:
        msg += (f"; {program.where(near[0])} defines `{near[0]}`: was it renamed? The grader "
                f"looks for the exact name `{ex.name}`")
    else:
        msg += ": keep the exercise's function name and signature as given"
    return msg


def _mistake_book(ref):
    def mistakes(ex: Exercise, inputs: dict) -> dict:
        out = {}
        for hint, wrong in mistakes_of(ex).items():
            try:
                out[hint] = wrong(ref, inputs)
            except Exception:  # noqa: BLE001  (a mistake that does not apply to this shape)
                pass
        return out
    return mistakes


class NotebookProcess:
    """One student process for all of a notebook's exercises, started on first use (the
    definitions run once, not once per exercise), and started again after a timeout or a
    crash, so each costs only the exercise it happened in. A process that has been busy
    for half its CPU allowance is replaced between exercises: a slow but correct notebook
    is not cut off by the process-wide CPU limit."""

    def __init__(self, program: Program, limits: Limits):
        self.sandbox = Sandbox(program, limits)
        self.load_error: StudentError | None = None

    def ready(self) -> Sandbox | None:
        """The sandbox, or None when the notebook's definitions cannot be loaded."""
        sb = self.sandbox
        if self.load_error is None and (sb.pid is None or sb.busy > sb.limits.cpu_seconds / 2):
            try:
                sb.restart() if sb.pid is not None else sb.start()
            except StudentError as e:   # it would fail the same way again: not retried
                self.load_error = e
        return None if self.load_error else sb

    def close(self) -> None:
        self.sandbox.close()


def grade_exercise(ex: Exercise, program: Program, ref, digest: str, forward_ok: bool | None,
                   timed_out: set[str], process: NotebookProcess,
                   chapter=None) -> tuple[list[CheckResult], str]:
    """All checks of one exercise, in the notebook's student process; returns (results,
    printed output). The exercise's name is added to `timed_out` when its regular hidden
    cases ran out of time. With `chapter` given, the cases are the chapter's public ones
    (those check() runs in the notebook) instead of hidden ones."""
    if ex.forward is not None and ex.forward.name in timed_out:
        # its checks would each wait for the same endless forward again
        return _all_zero(ex, "error", f"not run: {ex.name} is graded with the cache of your "
                         f"{ex.forward.name}, which did not finish in time when it was graded"), ""
    for name in (ex.name,) + ((ex.forward.name,) if ex.forward else ()):
        if name not in program.defined:
            msg = _missing_message(ex if name == ex.name else ex.forward, program)
            if name != ex.name:
                msg = f"{ex.name} is graded with the cache of your {name}, but {msg}"
            return _all_zero(ex, "error", msg), ""
    seed = seed_for(digest, ex)

    def expected(e, inputs):
        return run(e, ref, inputs)[0]

    hidden = [(d, ex.make_inputs(d, seed + k)) for k, d in enumerate(ex.hidden_dims)]
    edges = [(d, ex.make_inputs(d, seed + 100 + k)) for k, d in enumerate(ex.edge_dims)]
    sandbox = process.ready()
    if sandbox is None:
        return _all_zero(ex, "error", "the notebook's definitions could not be loaded: "
                         + checks.explain_error(process.load_error, "loading the notebook")), \
            process.sandbox.take_output()
    timeouts_before = sandbox.timeouts
    verdict = {}

    def forward_passes() -> bool:
        """Does the forward this backward uses pass? Known when this chapter graded it;
        a forward carried from an earlier chapter is checked here, once, on hidden cases."""
        if forward_ok is not None:
            return forward_ok
        if "forward" not in verdict:
            fwd = ex.forward
            cases = [(d, fwd.make_inputs(d, seed + 300 + k)) for k, d in enumerate(fwd.hidden_dims)]
            verdict["forward"] = checks.value_check(fwd, "values", sandbox, cases, expected).passed
        return verdict["forward"]

    if ex.checks_fn is not None:   # property checks (e.g. an initialiser's statistics)
        return ex.checks_fn(ex, sandbox, PUBLIC_SEED if chapter else seed), sandbox.take_output()
    if chapter is not None:
        plan = public_plan(ex, chapter, sandbox, ref, FINITE_DIFFERENCES)
        if forward_ok is not None:
            plan.forward_ok = lambda: forward_ok
    else:
        plan = checks.Plan(hidden, edges, expected, _mistake_book(ref), forward_passes,
                           ex.make_inputs(ex.grad_dims, GRADCHECK_SEED) if ex.grad_dims else None,
                           ref, FINITE_DIFFERENCES, reveal=False)

    def interrupted(done: list[CheckResult]) -> str | None:
        if sandbox.timeouts == timeouts_before:
            return None
        if len(done) == 1 and done[0].check == "values":   # its regular hidden cases
            timed_out.add(ex.name)
        # one timeout is enough: do not wait for every check
        return f"not run: {ex.name} timed out in an earlier check"

    results = checks.run_plan(ex, sandbox, plan, interrupted)
    return results, sandbox.take_output()


_NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")


def _grader_can_import(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _explain_imports(graded: Graded, load_problems: list[str]) -> None:
    """The notebook's load problems go to the student. An import that failed in the student
    process although the grader's own Python has the module is the grading machine's fault
    (its files cannot be read by the student process's uid): the student is told so, and the
    instructor what to fix (in `grader_notes`, printed once per run)."""
    def why(module: str) -> str:
        if _grader_can_import(module):
            graded.grader_notes.append(
                f"student code could not import `{module}`, which the grader's Python imports: "
                f"the student process (another uid) cannot read it. Make every folder of the "
                f"grader's Python (sys.prefix, site-packages) and their parents readable and "
                f"searchable by other users (chmod o+rx), or grade with a Python installed outside "
                f"a private home folder (e.g. /usr/bin/python3 or a venv under /opt).")
            return (f" (`{module}` is installed where the grader runs, but the grading sandbox "
                    f"could not read it: a set-up problem of the grading machine, not your code. "
                    f"Your instructor has been told)")
        return (f" (`{module}` is not installed where the grader runs: use numpy and the "
                f"standard library only)")

    for problem in load_problems:
        m = _NO_MODULE.search(problem)
        text = problem + (why(m.group(1)) if m else "")
        if text not in graded.problems:
            graded.problems.append(text)
    for r in graded.results:
        m = _NO_MODULE.search(r.message)
        if m and _grader_can_import(m.group(1)):
            r.message += why(m.group(1))


def grade_notebook(path: Path | str, key: str | None = None, chapter: str | None = None,
                   limits: Limits | None = None, root: Path | str | None = None,
                   public: bool = False) -> Graded:
    """Grade one notebook. Never raises for anything the student did. `public`: on the
    public cases check() uses in the notebook (to test that both agree), not hidden ones."""
    path = Path(path)
    start = time.monotonic()
    Zygote.get()   # the fork server starts (imports numpy) while we read the notebook
    limits = limits or Limits()
    graded = Graded(str(path), key or path.stem)
    try:
        graded.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        pass
    try:
        program = load_program(path)
    except NotebookError as e:
        program = None
        graded.problems.append(str(e))
    graded.chapter = guess_chapter(path, program, chapter)
    if graded.chapter is None:
        graded.problems.append(f"could not tell which chapter this notebook is (its name and "
                               f"its functions do not say); grade it with "
                               f"--chapter-for '{path.name}=NN_chapter' (or --chapter for all)")
        return graded
    if program is None:
        for ex in graded.chapter.EXERCISES:
            graded.results += _all_zero(ex, "error", "not graded: " + graded.problems[0])
        return graded
    graded.problems += program.problems
    ref = reference(graded.chapter, root)
    passed_values: dict[str, bool] = {}
    timed_out: set[str] = set()
    outputs = []
    process = NotebookProcess(program, limits)
    try:
        for ex in graded.chapter.EXERCISES:
            forward_ok = passed_values.get(ex.forward.name) if ex.forward else None
            results, printed = grade_exercise(ex, program, ref, graded.sha256, forward_ok,
                                              timed_out, process,
                                              graded.chapter if public else None)
            passed_values[ex.name] = all(r.passed for r in results if r.check in ("values", "edges"))
            graded.results += results
            if printed.strip():
                outputs.append(f"--- while grading {ex.name} ---\n{printed.strip()[:2000]}")
        point_at_causes(graded, program, process, root, public)
    finally:
        process.close()
    _explain_imports(graded, process.sandbox.load_problems)
    graded.output = "\n".join(outputs)
    graded.seconds = time.monotonic() - start
    return graded


def point_at_causes(graded: Graded, program: Program, process: NotebookProcess, root,
                    public: bool) -> None:
    """Feedback of a failed exercise starts with the functions it depends on that fail their
    own checks (see `cascade`). A function from another chapter (pasted code) is graded here
    for that, once; its score does not count."""
    chapter = graded.chapter
    own = {ex.name: all(r.passed for r in graded.results if r.exercise == ex.name)
           for ex in chapter.EXERCISES}
    other: dict[str, bool] = {}

    def fails(name: str) -> bool:
        if name in own:
            return not own[name]
        if name not in other:
            found = find(name, program.defined)
            other[name] = False
            if found is not None and name in program.defined:
                ch, ex = found
                results, _ = grade_exercise(ex, program, reference(ch, root), graded.sha256, None,
                                            set(), process, ch if public else None)
                other[name] = not all(r.passed for r in results)
        return other[name]

    forwards = cascade.forwards()
    for ex in chapter.EXERCISES:
        if not own[ex.name]:
            cascade.add_notes([r for r in graded.results if r.exercise == ex.name],
                              cascade.notes(ex.name, program.uses, forwards, fails))


def _hidden(root: str | None) -> tuple[str, ...]:
    """What student code must not see: the grader's SECRET_PATHS, and the reference of
    another course root (--root)."""
    extra = (str((Path(root) / "solutions").resolve()),) if root else ()
    return SECRET_PATHS + tuple(p for p in extra if p not in SECRET_PATHS)


IGNORED_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def find_skipped(paths: list[str], out: Path | None = None) -> list[tuple[Path, str]]:
    """(file, key) for the files in the given folders that are not notebooks (a .py, a PDF,
    a zip): listed as skipped, so a student who uploaded the wrong file is not missed.
    Grading output folders (this run's, or any holding a grades.csv) are not looked in."""
    found = []
    out = out.resolve() if out is not None else None
    for given in map(Path, paths):
        if not given.is_dir():
            continue
        outputs = {p.parent for p in given.rglob("grades.csv")} | ({out} if out else set())
        for p in sorted(given.rglob("*")):
            parts = p.relative_to(given).parts
            if (p.is_file() and p.suffix != ".ipynb" and p.name not in IGNORED_FILES
                    and not any(x.startswith(".") or x == "__MACOSX" for x in parts)
                    and not any(o == p.resolve().parent or o in p.resolve().parents
                                for o in map(Path.resolve, outputs))):
                found.append((p, p.relative_to(given).as_posix().replace("/", "__")))
    return found


def _record_skipped(out: Path, path: Path, key: str) -> None:
    graded = Graded(str(path), key)
    graded.problems.append(f"skipped: {path.name} is not a notebook (.ipynb); submit the "
                           f"chapter's notebook")
    _write_results(out, graded, "visible")


def chapter_for(path: Path, key: str, rules: list[tuple[str, str]], default: str | None) -> str | None:
    """The chapter given for this file by the first --chapter-for PATTERN=CHAPTER whose
    pattern matches its name, its key or its path; else --chapter (None: guess)."""
    for pattern, chapter in rules:
        if any(fnmatch.fnmatch(s, pattern) for s in (path.name, key, str(path))):
            return chapter
    return default


def _parse_chapter_rules(values: list[str]) -> list[tuple[str, str]]:
    rules = []
    for value in values or ():
        pattern, sep, chapter = value.rpartition("=")
        if not sep or not pattern or not chapter:
            raise SystemExit(f"--chapter-for {value!r}: write PATTERN=CHAPTER, e.g. "
                             f"'bob*=02_lstm_interface'")
        if chapter_named(chapter if chapter.endswith(".ipynb") else chapter + ".ipynb") is None:
            raise SystemExit(f"--chapter-for {value!r}: unknown chapter {chapter!r}; known: "
                             f"{', '.join(c.NOTEBOOK[:-6] for c in CHAPTERS)}")
        rules.append((pattern, chapter))
    return rules


def find_notebooks(paths: list[str]) -> list[tuple[Path, str]]:
    """(notebook, key) for each notebook in `paths` (files, or folders searched deeply)."""
    found, seen = [], set()
    for given in map(Path, paths):
        if given.is_dir():
            items = [(p, p.relative_to(given).with_suffix("").as_posix())
                     for p in sorted(given.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
        else:
            items = [(given, given.with_suffix("").name)]
        for p, key in items:
            key = key.replace("/", "__")
            if key in seen and not given.is_dir():   # same file name from another folder
                key = f"{p.parent.name}__{key}"
            base, n = key, 2
            while key in seen:
                key, n = f"{base}-{n}", n + 1
            seen.add(key)
            found.append((p, key))
    return found


# -- stopping a run (Ctrl-C) ---------------------------------------------------------------
# A Ctrl-C reaches only the main process: --jobs workers and every fork server ignore SIGINT
# (workers inherit "ignore"; fork servers run in their own session). The main process
# then stops the workers with SIGTERM; a worker ends the notebook it is grading (its
# student process is killed, its scratch folder removed) without writing a result for it.
# A result being written is finished first, so a submission's files are never half written.

class Stop(SystemExit):
    """A worker was told to stop (SIGTERM from the main process after a Ctrl-C)."""


_WRITING = False
_PENDING: list = []


def _raise_unless_writing(exc_type):
    def handler(signum, frame):
        if _WRITING:
            _PENDING.append(exc_type)
        else:
            raise exc_type()
    return handler


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_unless_writing(Stop))


def _write_results(out: Path, graded, visibility: str) -> None:
    global _WRITING
    _WRITING = True
    try:
        report.write_submission(out, graded, visibility)
    finally:
        _WRITING = False
    if _PENDING:
        raise _PENDING.pop()()


def _grade_one(job) -> dict:
    """Grade one submission and write its files (runs in a worker process with --jobs)."""
    path, key, chapter, limits, root, out, visibility = job
    try:
        try:
            graded = grade_notebook(path, key, chapter, limits, root)
        except Exception as e:  # noqa: BLE001  (a grader bug must not stop the class)
            graded = Graded(str(path), key)
            graded.problems.append(f"internal grader error, please tell the instructor: "
                                   f"{type(e).__name__}: {e}")
            traceback.print_exc()
        _write_results(out, graded, visibility)
    except Stop:   # a worker told to stop: nothing half done is written; leave quietly
        os._exit(0)
    return {"key": key, "score": graded.score, "max_score": graded.max_score,
            "problem": graded.problems[0] if graded.problems else "",
            "graded": bool(graded.results), "notes": list(graded.grader_notes)}


def _progress(done: int, total: int, line: str) -> None:
    width = 24
    filled = width * done // total
    print(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {line}", flush=True)


def summary(out: Path, results: list[dict]) -> str:
    """What an instructor reads at the end: counts, failures and why, mean per exercise."""
    failed = [r for r in results if not r["graded"]]
    lines = [f"graded {len(results) - len(failed)} submission(s) this run"
             + (f"; {len(failed)} could not be graded:" if failed else "")]
    lines += [f"  {r['key']}: {r['problem'][:160]}" for r in failed]
    table = report.read_grades(out)
    columns = [c for c in table[0] if c not in report.FIXED_COLUMNS] if table else []
    # a file that is not a notebook has a row (so it is not missed) but was not graded
    skipped = [r for r in table if (r.get("problem") or "").startswith("skipped:")]
    table = [r for r in table if r not in skipped]
    if skipped:
        lines.append(f"{len(skipped)} file(s) skipped (not notebooks) in {out}")
    # per chapter: two chapters may have an exercise of the same name (LSTMCell)
    for chapter in sorted({r.get("chapter", "") for r in table}):
        rows = [r for r in table if r.get("chapter", "") == chapter]
        known = chapter_named(chapter if chapter.endswith(".ipynb") else chapter + ".ipynb")
        titles = [f"{ex.number} {ex.name}" for ex in known.EXERCISES] if known else columns
        means = []
        for c in titles:   # book order
            vals = [float(r[c]) for r in rows if r.get(c) not in (None, "")]
            if vals:
                means.append(f"  {c:<28} {sum(vals) / len(vals):6.2f}  (n={len(vals)})")
        if means:
            lines.append(f"mean score per exercise over all {len(rows)} graded submission(s) "
                         f"{'of ' + chapter + ' ' if chapter else ''}in {out}:")
            lines += means
        else:   # never a heading with nothing under it
            lines.append(f"{len(rows)} submission(s) {'of ' + chapter + ' ' if chapter else ''}"
                         f"in {out} with no exercise score (see the problem column of grades.csv)")
    return "\n".join(lines)


def main_grade(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder grade",
        description="Grade notebooks against the reference solutions. Writes DIR/<submission>/"
                    "results.json (Gradescope's format), feedback.md and feedback.html, and "
                    "DIR/grades.csv. Layouts: a folder per student (<student>/<any>.ipynb) or a "
                    "flat folder (<student>_<any>.ipynb); the chapter is told by the file name "
                    "(NN_...) or by the functions the notebook defines.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders of them")
    parser.add_argument("--out", default="grades", metavar="DIR", help="where results go (default: grades)")
    parser.add_argument("--chapter", help="grade every notebook as this chapter (e.g. 01_rnn_review)")
    parser.add_argument("--chapter-for", action="append", default=[], metavar="PATTERN=CHAPTER",
                        help="grade the files whose name (or path) matches PATTERN as CHAPTER, "
                             "for notebooks whose name and functions do not tell (repeatable; "
                             "e.g. 'bob_*=02_lstm_interface')")
    parser.add_argument("--force", action="store_true",
                        help="regrade submissions already graded in DIR with the same file contents")
    parser.add_argument("--jobs", "-j", type=int, default=1,
                        help="submissions graded in parallel (default: 1; try the number of cores)")
    parser.add_argument("--timeout", type=float, default=Limits.call_seconds,
                        help="seconds allowed for one call of a student function (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_bytes >> 20,
                        help="memory limit of a student process in MB (default: %(default)s)")
    parser.add_argument("--root", default=None, help="course root with solutions/ (default: this package's)")
    parser.add_argument("--visibility", default="visible",
                        help="Gradescope visibility of the hidden-case tests (default: visible)")
    parser.add_argument("--single", metavar="FILE",
                        help="one submission (Gradescope): also copy its results.json to FILE")
    args = parser.parse_args(argv)
    notebooks = find_notebooks(args.paths)
    if args.single:
        return _grade_single(args, notebooks)
    for p in args.paths:
        if not Path(p).exists():
            print(f"warning: {p} does not exist")
    if not notebooks:
        others = find_skipped(args.paths)
        print("no notebooks found in " + ", ".join(args.paths)
              + (f" (files that are not notebooks: {', '.join(p.name for p, _ in others[:10])})"
                 if others else ""))
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a student process sees neither the other submissions nor anyone's grades
    others = {str(Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent) for p in args.paths}
    limits = Limits(call_seconds=args.timeout, memory_bytes=args.memory_mb << 20,
                    hide=_hidden(args.root) + tuple(sorted(others)) + (str(out.resolve()),))
    refused = check_isolation(limits, args.root)
    if refused:
        return refused
    rules = _parse_chapter_rules(args.chapter_for)
    jobs, skipped = [], 0
    for path, key in notebooks:
        if not args.force and report.already_graded(out, key, path):
            skipped += 1
            continue
        jobs.append((path, key, chapter_for(path, key, rules, args.chapter), limits, args.root,
                     out, args.visibility))
    not_notebooks = find_skipped(args.paths, out)
    for path, key in not_notebooks:
        _record_skipped(out, path, key)
    if not_notebooks:
        print(f"skipped {len(not_notebooks)} file(s) that are not notebooks (listed in grades.csv): "
              + ", ".join(str(p) for p, _ in not_notebooks[:10])
              + (" ..." if len(not_notebooks) > 10 else ""))
    if skipped:
        print(f"{skipped} submission(s) already graded with the same contents: skipped (--force regrades)")
    results: list[dict] = []
    noted: set[str] = set()

    def done(r: dict, quiet: bool = False) -> None:
        results.append(r)
        if quiet:   # (results collected after a Ctrl-C: only the one closing line is printed)
            return
        _progress(len(results), len(jobs), f"{r['key']}: {r['score']:g}/{r['max_score']:g}")
        for note in r.get("notes", ()):   # once per run, however many students it hits
            if note not in noted:
                noted.add(note)
                print(f"NOTE FOR THE INSTRUCTOR: {note}", flush=True)

    interrupted = False
    run_started = time.time()
    previous = signal.signal(signal.SIGINT, _raise_unless_writing(KeyboardInterrupt))
    try:
        if args.jobs > 1 and len(jobs) > 1:
            _grade_in_pool(jobs, args.jobs, done)
        else:
            for job in jobs:
                done(_grade_one(job))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # a second Ctrl-C while the table is written ends the run at once (nothing is lost:
        # the table is rebuilt from the results on disk by the next run)
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))
        table = report.write_grades_csv(out)
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        # counted on disk: a worker may have finished writing a result it could not report
        written = sum(1 for p in out.glob("*/results.json") if p.stat().st_mtime >= run_started)
        graded_now = max(written, len(results))
        left = len(jobs) - graded_now
        print(f"\nInterrupted: {graded_now} of {len(jobs)} submission(s) graded this run "
              f"(results in {out}, {table.name} updated); run the same command again to grade "
              f"the other {left}: those already graded are skipped.", flush=True)
        return 130
    print(f"wrote {table}")
    print(summary(out, results))
    return 0


def _grade_in_pool(jobs: list, workers: int, done) -> None:
    """Grade `jobs` in `workers` processes, calling done(result) as each finishes. On
    Ctrl-C: pending jobs are cancelled, the workers stopped (SIGTERM, then SIGKILL after
    3 s), and KeyboardInterrupt raised again once they are gone."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # spawn: each worker starts clean and gets its own fork server. SIGINT is ignored while
    # the workers start, so they inherit "ignore" from their first instruction on.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        futures = [pool.submit(_grade_one, job) for job in jobs]
        processes = list(getattr(pool, "_processes", {}).values())
    finally:
        signal.signal(signal.SIGINT, previous)
    seen = set()
    try:
        for future in as_completed(futures):
            seen.add(future)
            done(future.result())
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # stopping already
        processes = list(dict.fromkeys(processes + list((getattr(pool, "_processes", None) or {}).values())))
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + 3.0
        for proc in processes:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        for future in futures:   # finished (and written) before the workers stopped
            if future not in seen and future.done() and not future.cancelled() \
                    and future.exception() is None:
                done(future.result(), quiet=True)
        raise KeyboardInterrupt from None
    pool.shutdown()


def check_isolation(limits: Limits, root: str | None) -> int | None:
    """Once per run, before grading: can a student process read the reference solutions or
    the grader's files? Asked of a real student process. As root they are protected by a
    uid of the student's own and the folders' modes (and, where it can be made, a mount
    namespace): if one is still readable, grading refuses (returns 2). Not as root, student
    code runs as the instructor and reads what they can read: said loudly, then graded."""
    solutions = str((Path(root) if root else Path(SECRET_PATHS[0]).parent) / "solutions")
    try:
        readable = readable_secrets(limits, extra=[solutions])
    except StudentError as e:
        print(f"WARNING: could not check what student code can read ({e})", file=sys.stderr)
        return None
    if not readable:
        return None
    shown = ", ".join(readable[:4]) + (" ..." if len(readable) > 4 else "")
    if os.getuid() == 0:
        print(f"REFUSING TO GRADE: student code could read {shown} although the grader runs as "
              f"root (uid change, modes and namespaces all failed). Tell the course's maintainers.",
              file=sys.stderr, flush=True)
        return 2
    bar = "!" * 78
    print(f"{bar}\nWARNING: student code can read the reference solutions and the grader's "
          f"files ({shown}).\nThe grader is not running as root, so student processes run as "
          f"you and read whatever you can:\na notebook could copy the reference into its "
          f"answers or its printed feedback.\nGrade as root (a container, Gradescope, or sudo) "
          f"so that student code runs as a uid of its own\nthat cannot read them (README: "
          f"\"Where student code runs\").\n{bar}", file=sys.stderr, flush=True)
    return None


def _grade_single(args, notebooks) -> int:
    """Gradescope: the submission folder holds one student's files; grade the notebook
    (the one named like the chapter if there are several) and write FILE."""
    target = Path(args.single)
    if not notebooks:
        target.write_text(json.dumps({"score": 0, "output": "No .ipynb file was found in your "
                                      "submission: upload the chapter's notebook.", "tests": []}))
        return 0
    named = [nb for nb in notebooks if args.chapter and args.chapter in nb[0].name]
    path, key = (named or notebooks)[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits(call_seconds=args.timeout, memory_bytes=args.memory_mb << 20,
                    hide=_hidden(args.root) + (str(path.resolve().parent), str(out.resolve())))
    refused = check_isolation(limits, args.root)
    if refused:
        return refused
    result = _grade_one((path, key, args.chapter, limits, args.root, out, args.visibility))
    for note in result.get("notes", ()):   # the instructor reads the autograder's log
        print(f"NOTE FOR THE INSTRUCTOR: {note}", flush=True)
    shutil.copyfile(out / key / "results.json", target)
    print(f"graded {path.name}; wrote {target}")
    return 0

"""The grader, tested by mutation: known-wrong implementations lose points on the right
exercise (and the feedback names the bug where it can), and correct implementations
written differently get full marks. Then the bad inputs of a real class."""
from __future__ import annotations

import csv
import json

import pytest

from autograder.grade import grade_notebook, main_grade, seed_for
from autograder.exercises import rnn_review
from autograder.sandbox import Limits
from conftest import CHAPTER, ROOT, SOLUTION

FULL = 40.0
EXERCISES = [ex.name for ex in rnn_review.EXERCISES]
# who depends on whom: a wrong step function also breaks what is built on it
USES = {"rnn_step_forward": {"rnn_forward", "rnn_step_backward", "rnn_backward"},
        "rnn_forward": {"rnn_backward"}, "rnn_step_backward": {"rnn_backward"}}


def feedback(graded, exercise=None) -> str:
    return "\n".join(r.message for r in graded.results if exercise in (None, r.exercise))


# -- known-wrong implementations ---------------------------------------------------------

MUTANTS = {
    "no bias": ("rnn_step_forward", """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h_next = np.tanh(x @ Wx + h_prev @ Wh)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """, "bias b is missing"),
    "sigmoid for tanh": ("rnn_step_forward", """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h_next = 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """, "sigmoid used instead of tanh"),
    "x and h weights swapped": ("rnn_step_forward", """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h_next = np.tanh(x @ Wh + h_prev @ Wx + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """, "ValueError"),
    "off by one in time": ("rnn_forward", """
        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, D = x.shape
            h, caches, h_t = np.zeros((N, T, h0.shape[1])), [], h0
            for t in range(T):
                h[:, t] = h_t                      # stored before the step
                h_t, c = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)
                caches.append(c)
            return h, caches
        """, "off by one"),
    "state not carried": ("rnn_forward", """
        def rnn_forward(x, h0, Wx, Wh, b):
            steps = [rnn_step_forward(x[:, t], h0, Wx, Wh, b) for t in range(x.shape[1])]
            return np.stack([s[0] for s in steps], axis=1), [s[1] for s in steps]
        """, "every step starts from h0"),
    "tanh derivative missing": ("rnn_step_backward", """
        def rnn_step_backward(dh_next, cache):
            x, h_prev, Wx, Wh, h_next = cache
            da = dh_next
            return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)
        """, "tanh derivative is missing"),
    "db not summed over the batch": ("rnn_step_backward", """
        def rnn_step_backward(dh_next, cache):
            x, h_prev, Wx, Wh, h_next = cache
            da = dh_next * (1 - h_next ** 2)
            return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.mean(axis=0)
        """, "times"),
    "dWh not accumulated": ("rnn_backward", """
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            carry = np.zeros((N, H))
            for t in reversed(range(T)):
                dx[:, t], carry, dWx, dWh, db = rnn_step_backward(dh[:, t] + carry, cache[t])
            return dx, carry, dWx, dWh, db
        """, "not accumulated over time"),
    "carried gradient not added": ("rnn_backward", """
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            dWx, dWh, db = 0, 0, 0
            for t in reversed(range(T)):
                dx[:, t], dh0, a, b_, c = rnn_step_backward(dh[:, t], cache[t])
                dWx, dWh, db = dWx + a, dWh + b_, db + c
            return dx, dh0, dWx, dWh, db
        """, "carried from step t+1 is not added"),
    "dh0 not returned": ("rnn_backward", """
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            dWx, dWh, db, carry = 0, 0, 0, np.zeros((N, H))
            for t in reversed(range(T)):
                dx[:, t], carry, a, b_, c = rnn_step_backward(dh[:, t] + carry, cache[t])
                dWx, dWh, db = dWx + a, dWh + b_, db + c
            return dx, np.zeros((N, H)), dWx, dWh, db
        """, "dh0 is not returned"),
    "time loop stops one step early": ("rnn_backward", """
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            dWx, dWh, db, carry = 0, 0, 0, np.zeros((N, H))
            for t in reversed(range(1, T)):
                dx[:, t], carry, a, b_, c = rnn_step_backward(dh[:, t] + carry, cache[t])
                dWx, dWh, db = dWx + a, dWh + b_, db + c
            return dx, carry, dWx, dWh, db
        """, "t=0"),
    "upstream gradient modified in place": ("rnn_backward", """
        def rnn_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            dWx, dWh, db, carry = 0, 0, 0, np.zeros((N, H))
            for t in reversed(range(T)):
                dh[:, t] += carry                     # writes into the caller's array
                dx[:, t], carry, a, b_, c = rnn_step_backward(dh[:, t], cache[t])
                dWx, dWh, db = dWx + a, dWh + b_, db + c
            return dx, carry, dWx, dWh, db
        """, "modified its input dh in place"),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_known_wrong_implementation_loses_points_on_its_exercise(mutant, make_notebook):
    """Each bug costs points on its own exercise, not on unrelated ones, and is named."""
    target, source, clue = MUTANTS[mutant]
    graded = grade_notebook(make_notebook({target: source}))
    assert graded.exercise_score(target) < 10, feedback(graded, target)
    assert clue in feedback(graded, target)
    for other in set(EXERCISES) - {target} - USES.get(target, set()):
        assert graded.exercise_score(other) == 10, (other, feedback(graded, other))


def test_a_wrong_forward_is_flagged_when_grading_its_backward(make_notebook):
    """A broken rnn_forward makes rnn_backward fail too; the feedback says to fix it first."""
    graded = grade_notebook(make_notebook({"rnn_forward": MUTANTS["state not carried"][1]}))
    assert graded.exercise_score("rnn_backward") < 10
    assert "which fails its own checks: fix it first" in feedback(graded, "rnn_backward")
    gradcheck = next(r for r in graded.results if (r.exercise, r.check) == ("rnn_backward", "gradcheck"))
    assert gradcheck.score == 0 and "fix rnn_forward first" in gradcheck.message


# -- correct implementations, written differently ------------------------------------------

# BPTT that never looks inside a step cache (the variants below change its format)
GENERIC_BACKWARD = """
    def rnn_backward(dh, cache):
        T = dh.shape[1]
        carry, grads, dxs = np.zeros_like(dh[:, 0]), None, [None] * T
        for t in reversed(range(T)):
            dxs[t], carry, *g = rnn_step_backward(dh[:, t] + carry, cache[t])
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
        return (np.stack(dxs, axis=1), carry, *grads)
    """

VARIANTS = {
    "inline loops, stacked arrays in a dict cache": {
        "rnn_forward": """
            def rnn_forward(x, h0, Wx, Wh, b):
                N, T, D = x.shape
                hs = [h0]
                for t in range(T):
                    hs.append(np.tanh(np.dot(x[:, t, :], Wx) + np.dot(hs[-1], Wh) + b))
                h = np.stack(hs[1:], axis=1)                     # (N, T, H)
                return h, {"x": x, "h": h, "h0": h0, "Wx": Wx, "Wh": Wh}
            """,
        "rnn_backward": """
            def rnn_backward(dh, cache):
                x, h, Wx, Wh = cache["x"], cache["h"], cache["Wx"], cache["Wh"]
                prev = np.concatenate([cache["h0"][:, None], h[:, :-1]], axis=1)   # (N, T, H)
                da = np.zeros_like(h)
                carry = np.zeros_like(cache["h0"])
                for t in range(h.shape[1] - 1, -1, -1):
                    da[:, t] = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
                    carry = da[:, t] @ Wh.T
                dx = np.einsum("nth,dh->ntd", da, Wx)
                dWx = np.einsum("ntd,nth->dh", x, da)
                dWh = np.einsum("ntk,nth->kh", prev, da)
                return dx, carry, dWx, dWh, da.sum(axis=(0, 1))
            """},
    "cache keeps the pre-activation, derivative via cosh": {
        "rnn_backward": GENERIC_BACKWARD,
        "rnn_step_forward": """
            def rnn_step_forward(x, h_prev, Wx, Wh, b):
                a = np.matmul(x, Wx) + np.matmul(h_prev, Wh) + b[None, :]
                return np.tanh(a), {"a": a, "x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh}
            """,
        "rnn_step_backward": """
            def rnn_step_backward(dh_next, cache):
                da = dh_next / np.cosh(cache["a"]) ** 2
                return (da.dot(cache["Wx"].T), da.dot(cache["Wh"].T), cache["x"].T.dot(da),
                        cache["h_prev"].T.dot(da), np.sum(da, axis=0))
            """},
    "a cache object that stays in the student process": {
        "rnn_backward": GENERIC_BACKWARD,
        "rnn_step_forward": """
            class StepCache:
                def __init__(self, **parts):
                    self.__dict__.update(parts)

            def rnn_step_forward(x, h_prev, Wx, Wh, b):
                h_next = 1 - 2 / (np.exp(2 * (x @ Wx + h_prev @ Wh + b)) + 1)   # tanh, rewritten
                return h_next, StepCache(x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, h=h_next)
            """,
        "rnn_step_backward": """
            def rnn_step_backward(dh_next, cache):
                da = dh_next * (1 - cache.h * cache.h)
                return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.h_prev.T @ da, da.sum(0)
            """},
    "vectorised weight gradients after the loop": {
        "rnn_backward": """
            def rnn_backward(dh, cache):
                N, T, H = dh.shape
                das, dxs, carry = [None] * T, [None] * T, np.zeros((N, H))
                for t in reversed(range(T)):
                    x, h_prev, Wx, Wh, h_next = cache[t]
                    das[t] = (dh[:, t] + carry) * (1 - h_next ** 2)
                    dxs[t] = das[t] @ Wx.T
                    carry = das[t] @ Wh.T
                da = np.stack(das, 1)
                xs = np.stack([c[0] for c in cache], 1)
                hp = np.stack([c[1] for c in cache], 1)
                dWx = xs.reshape(N * T, -1).T @ da.reshape(N * T, H)
                dWh = hp.reshape(N * T, H).T @ da.reshape(N * T, H)
                return np.stack(dxs, 1), carry, dWx, dWh, da.reshape(N * T, H).sum(0)
            """},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_implementation_written_differently_gets_full_marks(variant, make_notebook):
    graded = grade_notebook(make_notebook(VARIANTS[variant]))
    assert graded.score == FULL, feedback(graded)


def test_solutions_get_full_marks_and_chapter_stubs_get_zero():
    solved = grade_notebook(SOLUTION)
    assert (solved.score, solved.max_score) == (FULL, FULL), feedback(solved)
    stubs = grade_notebook(CHAPTER)
    assert stubs.score == 0 and stubs.max_score == FULL
    for name in EXERCISES:
        assert "is not implemented yet" in feedback(stubs, name)


def test_hidden_cases_differ_between_submissions_but_not_between_regrades():
    ex = rnn_review.rnn_forward
    assert seed_for("aaaa", ex) == seed_for("aaaa", ex)
    assert seed_for("aaaa", ex) != seed_for("bbbb", ex)
    assert seed_for("aaaa", ex) != seed_for("aaaa", rnn_review.rnn_backward)


# -- bad input: a clear message for that student, and the next one is graded ---------------

def test_reference_finite_differences_are_computed_once_per_exercise_for_a_class(make_notebook):
    """The gradient check's inputs are shared by the class, so the reference's differences
    (the check's expensive part) are reused; a wrong backward still fails on a reused one."""
    from autograder import grade
    grade.FINITE_DIFFERENCES.clear()
    assert grade_notebook(SOLUTION).score == FULL
    keys = set(grade.FINITE_DIFFERENCES)
    assert {k[0] for k in keys} == {"rnn_step_backward", "rnn_backward"} and len(keys) == 2
    graded = grade_notebook(make_notebook({"rnn_step_backward": MUTANTS["tanh derivative missing"][1]}))
    assert set(grade.FINITE_DIFFERENCES) == keys
    gradcheck = next(r for r in graded.results if (r.exercise, r.check) == ("rnn_step_backward", "gradcheck"))
    assert gradcheck.score == 0 and "finite differences" in gradcheck.message


def test_notebook_that_is_not_json(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [ {"cell_type": "code", "source": "def f(')
    graded = grade_notebook(bad, chapter="01_rnn_review")
    assert graded.score == 0 and graded.max_score == FULL
    assert "not a valid notebook" in graded.problems[0] and "line 1" in graded.problems[0]


def test_missing_and_renamed_functions(make_notebook):
    graded = grade_notebook(make_notebook({
        "rnn_forward": None,
        "rnn_step_backward": """
            def rnn_step_backwards(dh_next, cache):
                return None
            """}))
    assert "`rnn_forward` is not defined" in feedback(graded, "rnn_forward")
    assert "defines `rnn_step_backwards`: was it renamed?" in feedback(graded, "rnn_step_backward")
    assert graded.exercise_score("rnn_step_forward") == 10


@pytest.mark.parametrize("body, clue", [
    ("return np.tanh(x @ Wx + h_prev @ Wh + b)", "should return a tuple (h_next, cache)"),
    ("return (x @ Wx + h_prev @ Wh + b).T, None", "has shape"),
    ("return np.full((x.shape[0], Wh.shape[0]), np.nan), None", "NaN"),
    ("return [[0.0]], None", "should be a numpy array"),
    ("raise ValueError('shapes do not align')", "raised ValueError: shapes do not align"),
])
def test_wrong_returns_and_exceptions_are_explained(body, clue, make_notebook):
    graded = grade_notebook(make_notebook({"rnn_step_forward": f"""
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            {body}
        """}))
    assert graded.exercise_score("rnn_step_forward") <= 2  # at most "inputs unchanged"
    assert clue in feedback(graded, "rnn_step_forward")
    assert graded.exercise_score("rnn_step_backward") < 10  # it needs the forward's cache


def test_printing_and_warnings_never_change_a_score(make_notebook):
    """A correct function that prints a debug line, warns and writes to stderr gets full
    marks (nbgrader and otter gave such code 0); what it printed is in the feedback, under
    the exercise that was being graded, and so is what a definition printed at load."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        import sys, warnings
        def rnn_step_forward(x, h_prev, Wx, Wh, b, _=print("DEFINED")):
            print("DEBUG shapes", x.shape, h_prev.shape)
            warnings.warn("a warning on stderr")
            sys.stderr.write("RAW STDERR\\n")
            h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """}))
    assert graded.score == FULL, feedback(graded)
    first = graded.output.split("--- while grading ")[1]
    assert first.startswith("rnn_step_forward ---")
    for text in ("DEFINED", "DEBUG shapes", "a warning on stderr", "RAW STDERR"):
        assert text in first
    assert graded.output.count("DEFINED") == 1   # the definitions ran once


def looping(name: str, args: str) -> dict:
    """A replacement of `name` by a function that never returns."""
    return {name: f"def {name}({args}):\n    while True:\n        pass\n"}


def test_infinite_loop_times_out_and_the_rest_is_graded(make_notebook):
    graded = grade_notebook(make_notebook(looping("rnn_forward", "x, h0, Wx, Wh, b")),
                            limits=Limits(call_seconds=1.0))
    assert "did not finish within 1 s" in feedback(graded, "rnn_forward")
    assert graded.exercise_score("rnn_forward") == 0
    assert graded.exercise_score("rnn_step_forward") == 10
    assert graded.exercise_score("rnn_step_backward") == 10
    # rnn_backward needs the forward's cache: not waited for again, and told why
    assert graded.exercise_score("rnn_backward") == 0
    assert "rnn_forward, which did not finish in time" in feedback(graded, "rnn_backward")
    assert graded.seconds < 30


def test_after_one_timeout_later_calls_get_a_quarter_of_the_limit(make_notebook):
    """A loop in a helper would cost the full wait again in every exercise that calls it."""
    graded = grade_notebook(make_notebook(looping("rnn_step_forward", "x, h_prev, Wx, Wh, b")),
                            limits=Limits(call_seconds=2.0))
    assert "did not finish within 2 s (an infinite loop?)" in feedback(graded, "rnn_step_forward")
    assert "within 0.5 s" in feedback(graded, "rnn_forward")
    assert "later calls get 0.5 s" in feedback(graded, "rnn_forward")
    assert graded.score == 0


@pytest.fixture
def starts(monkeypatch):
    """How many student processes a grading starts."""
    from autograder.sandbox import Sandbox
    count = [0]
    real = Sandbox.start

    def counted(self):
        count[0] += 1
        return real(self)
    monkeypatch.setattr(Sandbox, "start", counted)
    return count


def test_one_student_process_per_notebook_and_a_new_one_after_a_timeout(make_notebook, starts):
    """The definitions run once per notebook, not once per exercise; a call that runs out
    of time ends that process, and the next exercise gets a fresh one."""
    assert grade_notebook(SOLUTION).score == FULL
    assert starts[0] == 1
    starts[0] = 0
    graded = grade_notebook(make_notebook(looping("rnn_step_backward", "dh_next, cache")),
                            limits=Limits(call_seconds=1.0))
    assert graded.exercise_score("rnn_step_backward") == 0
    assert [graded.exercise_score(n) for n in ("rnn_step_forward", "rnn_forward")] == [10, 10]
    assert starts[0] == 2


def test_readme_says_what_a_loop_in_a_forward_costs(make_notebook):
    """README: a timeout costs the exercise it happened in and those that call the function
    or need its cache, each with a message that says why (here all of chapter 1)."""
    graded = grade_notebook(make_notebook(looping("rnn_step_forward", "x, h_prev, Wx, Wh, b")),
                            limits=Limits(call_seconds=1.0))
    assert graded.score == 0
    failed = [r for r in graded.results if not r.passed]
    assert failed and all(r.message.strip() for r in failed)
    not_run = ("not run: rnn_step_backward is graded with the cache of your rnn_step_forward, "
               "which did not finish in time when it was graded")
    assert any(r.message == not_run for r in graded.results if r.exercise == "rnn_step_backward")
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "costs only the exercise it happened in" not in readme
    assert not_run in readme


def test_a_process_busy_for_half_its_cpu_allowance_is_replaced_between_exercises(
        make_notebook, starts):
    """The CPU limit is per process: a slow but correct notebook is not cut off by it."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            import time
            time.sleep(0.1)
            h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """}), limits=Limits(cpu_seconds=1))
    assert graded.score == FULL, feedback(graded)
    assert starts[0] >= 2


def test_huge_allocation_is_reported_as_memory(make_notebook):
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            waste = np.ones((1 << 40,))
            return waste, None
        """}), limits=Limits(memory_bytes=1 << 30))
    assert "memory" in feedback(graded, "rnn_step_forward").lower()
    assert graded.exercise_score("rnn_step_forward") == 0


def test_slow_definition_at_load_time_is_reported(make_notebook, starts):
    graded = grade_notebook(make_notebook(extra_cells=["""
        import time
        def stall(seconds=time.sleep(60)):
            pass
        _mine = rnn_step_forward
        def rnn_step_forward(x, h_prev, Wx, Wh, b):   # uses stall: the grader defines it
            stall()
            return _mine(x, h_prev, Wx, Wh, b)
        """]), limits=Limits(load_seconds=1.0))
    assert graded.score == 0
    assert all("could not be loaded" in r.message for r in graded.results)
    assert starts[0] == 1   # it would not load any better for the next exercise


def test_a_slow_demo_value_nothing_graded_uses_is_not_run(make_notebook):
    """A training run at the top level costs nothing when no graded function uses it."""
    graded = grade_notebook(make_notebook(extra_cells=["""
        import time
        def stall(seconds=time.sleep(60)):
            pass
        losses = [time.sleep(60)]
        """]), limits=Limits(load_seconds=1.0))
    assert graded.score == FULL and not graded.problems, feedback(graded)


def test_demo_cells_with_loops_and_magics_do_not_matter(make_notebook):
    graded = grade_notebook(make_notebook(extra_cells=[
        "%matplotlib inline\n!echo hello\nwhile True:\n    pass",
        "check(rnn_forward)\nraise RuntimeError('a demo cell fails')"]))
    assert graded.score == FULL, feedback(graded)


def test_a_class_with_one_bad_notebook_is_still_graded(tmp_path, make_notebook, capsys):
    """Broken JSON, an infinite loop and a good notebook: every student gets a row."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.ipynb").write_text("not json at all")
    make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            while True:
                pass
        """}, name="class/bob.ipynb")
    make_notebook(name="class/carol.ipynb")
    out = tmp_path / "grades"
    assert main_grade([str(folder), "--out", str(out), "--timeout", "1"]) == 0
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert set(rows) == {"alice", "bob", "carol"}
    assert float(rows["carol"]["total"]) == FULL
    assert float(rows["alice"]["total"]) == 0 and "not a valid notebook" in rows["alice"]["problem"]
    assert float(rows["bob"]["1.1 rnn_step_forward"]) == 0
    results = json.loads((out / "bob" / "results.json").read_text())
    assert {"score", "tests"} <= results.keys()
    assert all({"name", "score", "max_score", "status", "output", "visibility"} <= t.keys()
               for t in results["tests"])
    assert "did not finish" in (out / "bob" / "feedback.md").read_text()


def test_summary_is_per_chapter_when_a_run_grades_several(tmp_path, capsys):
    """Chapters 2 and 3 both have an exercise named LSTMCell: their means stay apart."""
    sols = [str(ROOT / "solutions" / n) for n in ("02_lstm_interface.ipynb", "03_gates.ipynb")]
    assert main_grade(sols + ["--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    two = printed.index("of 02_lstm_interface")
    three = printed.index("of 03_gates")
    assert two < three
    assert printed[two:three].count("LSTMCell") == 1 and printed[three:].count("LSTMCell") == 1
    assert "3.8 LSTMCell                  10.00  (n=1)" in printed[three:]


def test_summary_does_not_count_a_skipped_file_as_graded(tmp_path, make_notebook, capsys):
    """A stray notes.txt next to a notebook: listed as skipped, not counted as a graded
    submission, and no mean heading with nothing under it."""
    (tmp_path / "notes.txt").write_text("my notes")
    make_notebook(name="bob_01_rnn_review.ipynb")
    assert main_grade([str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "1 file(s) skipped (not notebooks)" in printed
    headings = [l for l in printed.splitlines() if l.startswith("mean score per exercise")]
    assert len(headings) == 1 and "1 graded submission(s) of 01_rnn_review" in headings[0]
    after = printed.splitlines()[printed.splitlines().index(headings[0]) + 1]
    assert after.startswith("  1.1 rnn_step_forward")
    # run again: nothing new to grade, the summary still does not count notes.txt
    assert main_grade([str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "1 file(s) skipped (not notebooks)" in printed
    assert "over all 2 graded" not in printed and "over all 1 graded submission(s) in" not in printed


def test_grading_again_keeps_earlier_rows_and_skips_what_is_graded(tmp_path, make_notebook, capsys):
    out = tmp_path / "grades"
    first = make_notebook(name="first.ipynb")
    second = make_notebook(name="second.ipynb")
    main_grade([str(first), "--out", str(out)])
    main_grade([str(second), "--out", str(out)])
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [r["submission"] for r in rows] == ["first", "second"]
    capsys.readouterr()
    main_grade([str(first), str(second), "--out", str(out)])
    assert "2 submission(s) already graded with the same contents: skipped" in capsys.readouterr().out
    main_grade([str(first), "--out", str(out), "--force"])
    assert "skipped" not in capsys.readouterr().out


def test_parallel_class_in_lms_layouts_matches_sequential(tmp_path, make_notebook, capsys):
    """--jobs 2 over a folder-per-student and a flat export gives the sequential grades,
    a student column, a summary with the mean per exercise, and HTML feedback."""
    make_notebook(name="dana_hw1_01_rnn_review.ipynb")
    make_notebook({"rnn_forward": MUTANTS["state not carried"][1]}, name="erin_01_rnn_review.ipynb")
    (tmp_path / "frank").mkdir()
    make_notebook({"rnn_backward": None}, name="frank/submission.ipynb")
    results = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        main_grade([str(tmp_path), "--out", str(out), "--jobs", jobs])
        results[jobs] = {r["submission"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert results["1"] == results["2"]
    rows = results["2"]
    assert {r["student"] for r in rows.values()} == {"dana", "erin", "frank"}
    assert float(rows["dana_hw1_01_rnn_review"]["total"]) == FULL
    assert float(rows["frank__submission"]["1.4 rnn_backward"]) == 0
    printed = capsys.readouterr().out
    assert "mean score per exercise" in printed and "rnn_backward" in printed
    page = (tmp_path / "out2" / "erin_01_rnn_review" / "feedback.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "every step starts from h0" in page


# -- bad input that still has gradable work in it ----------------------------------------------

def test_cell_that_raises_at_import_time_costs_nothing_else(make_notebook):
    """A top-level statement that raises (a stray `1/0`, an import of a missing module) does
    not stop the functions around it from being graded."""
    graded = grade_notebook(make_notebook(extra_cells=["import no_such_module_anywhere",
                                                       "x = 1 / 0"]))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


def test_duplicate_definitions_last_one_wins(make_notebook):
    """As in a kernel run top to bottom: a wrong rnn_step_forward defined after the right
    one is what is graded, and a right one after a wrong one is too."""
    wrong = """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            return np.tanh(x @ Wx + h_prev @ Wh), None
        """
    later_wrong = grade_notebook(make_notebook(extra_cells=[wrong]))
    assert later_wrong.exercise_score("rnn_step_forward") < 10
    right = json.loads(SOLUTION.read_text())
    right_src = next("".join(c["source"]) for c in right["cells"] if c["cell_type"] == "code"
                     and "def rnn_step_forward" in "".join(c["source"]))
    later_right = grade_notebook(make_notebook({"rnn_step_forward": wrong},
                                               extra_cells=[right_src]))
    assert later_right.exercise_score("rnn_step_forward") == 10


def test_huge_outputs_in_the_notebook_do_not_matter(make_notebook, tmp_path):
    """A notebook saved with 60 MB of printed output is graded like any other."""
    path = make_notebook()
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * (60 << 20)}]
    path.write_text(json.dumps(nb))
    graded = grade_notebook(path)
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


def test_bytes_that_are_not_utf8(make_notebook):
    """Invalid UTF-8 (a Latin-1 comment saved by an old editor) in a notebook is graded."""
    path = make_notebook(extra_cells=["# caf\u00e9 cr\u00e8me"])
    data = path.read_bytes().replace("caf\\u00e9".encode(), b"caf\xe9")
    assert b"\xe9" in data, "the test did not manage to plant a non-UTF-8 byte"
    path.write_bytes(data)
    graded = grade_notebook(path)   # the bad byte is replaced; nothing else is lost
    assert graded.score == FULL, graded.problems


def test_notebook_over_the_size_limit_gets_a_message(make_notebook, monkeypatch):
    import autograder.notebook
    monkeypatch.setattr(autograder.notebook, "MAX_NOTEBOOK_BYTES", 1000)
    graded = grade_notebook(make_notebook(), chapter="01_rnn_review")
    assert graded.score == 0 and "are not graded (clear large outputs)" in graded.problems[0]


# -- where instructors grade: root, closed folders, Ctrl-C --------------------------------

def test_student_code_imports_what_the_graders_python_imports(make_notebook):
    """As root, the student process runs as another uid; the grader's Python may sit in a
    folder only root can enter (here: pyenv under /root, mode 0700). Standard-library
    modules and numpy submodules still import, at load time and inside a function."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        import statistics, fractions, heapq, string
        import numpy.ma as ma
        from decimal import Decimal

        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            import numpy.polynomial, csv, zipfile
            assert statistics.mean([1, 3]) == 2 and ma.masked_array([1.0]).sum() == 1
            h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """}), chapter="01_rnn_review")
    assert graded.score == FULL, graded.problems + [feedback(graded)]
    assert not graded.problems and not graded.grader_notes


def test_failed_imports_are_explained_to_student_and_instructor(make_notebook):
    from autograder.grade import Graded, _explain_imports
    missing = make_notebook({"rnn_step_forward": """
        import no_such_module_here

        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            if x is None:   # never: the import runs (the function names it) but is not needed
                no_such_module_here.run()
            h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """})
    graded = grade_notebook(missing, chapter="01_rnn_review")
    assert graded.score == FULL   # the import was not needed
    assert any("no_such_module_here" in p and "not installed where the grader runs" in p
               for p in graded.problems), graded.problems
    assert not graded.grader_notes
    # a module the grader can import but the student process could not read: not the
    # student's fault (what a closed Python folder without our descriptors gives)
    graded = Graded("x.ipynb", "x")
    _explain_imports(graded, ["Cell 2, line 1 (`import statistics`) raised ModuleNotFoundError: "
                              "No module named 'statistics'"])
    assert "not your code" in graded.problems[0] and "instructor has been told" in graded.problems[0]
    assert "chmod o+rx" in graded.grader_notes[0] and "`statistics`" in graded.grader_notes[0]


def test_isolation_is_checked_once_per_run(tmp_path, capsys, monkeypatch):
    """Grading refuses (as root) or warns loudly (not root) when student code can read the
    reference; here a student process left as root with nothing hidden stands for both."""
    import os
    from autograder import grade as grade_module
    exposed = Limits(uid=None, hide=())
    assert grade_module.check_isolation(exposed, None) == (2 if os.getuid() == 0 else None)
    assert "solutions" in capsys.readouterr().err
    monkeypatch.setattr(grade_module.os, "getuid", lambda: 1000)
    assert grade_module.check_isolation(exposed, None) is None
    err = capsys.readouterr().err
    assert "WARNING: student code can read the reference solutions" in err and "root" in err
    monkeypatch.undo()
    if os.getuid() == 0:   # the real limits: nothing readable, nothing said
        assert grade_module.check_isolation(Limits(), None) is None
        assert capsys.readouterr().err == ""


def _class_of(folder, n):
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"s{i:03d}_01_rnn_review.ipynb").write_bytes(SOLUTION.read_bytes())
    return folder


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_the_run_and_keeps_what_was_graded(jobs, tmp_path):
    """A real SIGINT to the run's process group (what a terminal's Ctrl-C sends) a few
    submissions in: the run ends within a few seconds with exit code 130 and one line,
    every result written is whole, none is an internal error, and a rerun grades the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time
    folder = _class_of(tmp_path / "class", 40)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), "--jobs", jobs]
    started = time.monotonic()
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, cwd=ROOT)
    while len(list(out.glob("*/results.json"))) < 3:
        assert run.poll() is None and time.monotonic() - started < 120, run.communicate()
        time.sleep(0.05)
    sent = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=60)
    stopped = time.monotonic() - sent
    print(f"--jobs {jobs}: SIGINT {sent - started:.2f} s after start, exit {stopped:.2f} s later")
    assert run.returncode == 130, stdout + stderr
    assert stopped < 5.0
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    after = stdout.split("\n\n")[-1].strip().splitlines()
    assert len(after) == 1 and after[0].startswith("Interrupted: ") and "run the same command" in after[0]
    kept = sorted(out.glob("*/results.json"))
    assert 3 <= len(kept) < 40
    graded_now = int(after[0].split()[1])
    assert graded_now == len(kept), (after, len(kept))
    for path in kept:
        data = json.loads(path.read_text())
        assert data["score"] == FULL and "internal grader error" not in json.dumps(data)
        assert (path.parent / "feedback.md").exists() and (path.parent / "feedback.html").exists()
    with open(out / "grades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(kept)
    assert not list(out.rglob("*.tmp"))
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{len(kept)} submission(s) already graded" in again.stdout
    assert len(list(out.glob("*/results.json"))) == 40


# -- grades.csv an instructor can upload ------------------------------------------------------

def _rows(out):
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


def test_grades_csv_is_ready_to_upload(tmp_path, make_notebook, capsys):
    """Student never the chapter number; a column per exercise named `N.M name` (chapters 2
    and 3 each get their LSTMCell); scores in one format; the problem column names the
    problem (a timeout, not "Your code printed:"); cuts between words; a .py listed as
    skipped; a formula-looking file name neutralised."""
    folder = tmp_path / "class"
    (folder / "gina").mkdir(parents=True)
    (folder / "gina" / "01_rnn_review.ipynb").write_bytes(SOLUTION.read_bytes())
    for n in ("02_lstm_interface.ipynb", "03_gates.ipynb"):
        (folder / f"hal_{n}").write_bytes((ROOT / "solutions" / n).read_bytes())
    make_notebook({"rnn_forward": """
        def rnn_forward(x, h0, Wx, Wh, b):
            print("working on it")
            while True:
                pass
        """}, name="class/ivan_01_rnn_review.ipynb")
    (folder / "jack_rnn.py").write_text("def rnn_step_forward(): pass\n")
    evil = '=HYPERLINK("http:__evil","x")_01_rnn_review.ipynb'
    (folder / evil).write_bytes(SOLUTION.read_bytes())
    (folder / "lone.ipynb").write_bytes(SOLUTION.read_bytes())
    out = tmp_path / "out"
    assert main_grade([str(folder), "--out", str(out), "--timeout", "0.5", "--jobs", "2"]) == 0
    assert "skipped 1 file(s) that are not notebooks" in capsys.readouterr().out
    rows = _rows(out)
    header = list(next(iter(rows.values())).keys())
    assert header[:3] == ["submission", "student", "chapter"]
    assert header[-3:] == ["total", "max_score", "problem"]
    exercise_columns = header[3:-3]
    assert "2.4 LSTMCell" in exercise_columns and "3.8 LSTMCell" in exercise_columns
    assert exercise_columns[:4] == ["1.1 rnn_step_forward", "1.2 rnn_forward",
                                    "1.3 rnn_step_backward", "1.4 rnn_backward"]
    assert rows["gina__01_rnn_review"]["student"] == "gina"
    assert rows["hal_02_lstm_interface"]["student"] == rows["hal_03_gates"]["student"] == "hal"
    assert rows["lone"]["student"] == "lone"
    for row in rows.values():   # one score format: two decimals
        for c in exercise_columns + ["total", "max_score"]:
            assert row[c] == "" or (row[c].count(".") == 1 and len(row[c].split(".")[1]) == 2), (c, row[c])
    ivan = rows["ivan_01_rnn_review"]
    assert ivan["problem"].startswith("1.2 rnn_forward: rnn_forward did not finish"), ivan["problem"]
    assert float(ivan["2.4 LSTMCell" if False else "1.2 rnn_forward"]) == 0
    jack = rows["jack_rnn.py"]
    assert jack["student"] == "jack" and jack["problem"].startswith("skipped: jack_rnn.py is not a notebook")
    assert jack["total"] == "0.00"
    injected = [r for k, r in rows.items() if "HYPERLINK" in k]
    assert len(injected) == 1
    assert all(not injected[0][c].startswith(("=", "+", "-", "@")) for c in ("submission", "student"))
    assert injected[0]["submission"].startswith("'=HYPERLINK")


def test_csv_cells_and_problem_text():
    from autograder.report import safe_cell, shorten, student_of
    for bad in ("=1+1", "+1", "-2", "@SUM(A1)", "\t=x"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("alice") == "alice" and safe_cell("") == ""
    text = "word " * 100
    cut = shorten(text, 50)
    assert len(cut) <= 50 and cut.endswith("…") and cut[:-1].split()[-1] == "word"
    assert student_of("01_rnn_review", "/x/gina/01_rnn_review.ipynb") == "gina"
    assert student_of("alice_01_rnn_review") == "alice"
    assert student_of("Alice Smith_12345_assignsubmission_file_01_rnn_review") == "Alice Smith"
    assert student_of("bob__hw") == "bob"


def test_chapter_for_one_file(tmp_path, make_notebook):
    """A notebook whose name and functions do not tell its chapter gets one by pattern."""
    empty = tmp_path / "class"
    empty.mkdir()
    nb = json.loads(SOLUTION.read_text())
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] == "markdown"][:1]
    (empty / "kim.ipynb").write_text(json.dumps(nb))
    (empty / "lee.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    assert main_grade([str(empty), "--out", str(out), "--chapter-for", "kim*=04_gru"]) == 0
    rows = _rows(out)
    assert rows["kim"]["chapter"] == "04_gru" and rows["kim"]["max_score"] != "0.00"
    assert rows["lee"]["chapter"] == "" and "--chapter-for 'lee.ipynb=" in rows["lee"]["problem"]
    with pytest.raises(SystemExit):
        main_grade([str(empty), "--out", str(out), "--chapter-for", "kim*=99_nope"])


@pytest.mark.parametrize("command", ["release", "grade", "fixtures", "gradescope"])
def test_every_subcommand_has_help(command, capsys):
    from autograder.cli import main
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert f"usage: python -m autograder {command}" in capsys.readouterr().out

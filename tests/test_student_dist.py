"""The student edition, installed into a fresh virtual environment: its self-check works on
a correct and a wrong implementation; nothing importable from it computes an answer (the
behavioural leak probe, tests/leak_probe.py, calls every callable of the installed package
on every exercise's public cases, and fires when a known-mistake helper is put back); and
the notebooks find their data wherever they are opened."""
from __future__ import annotations

import inspect
import json
import pickle
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from autograder import fixtures
from autograder.exercise import run
from autograder.exercises import CHAPTERS
from autograder.exercises.lstm_interface import CELL_NAMES
from autograder.notebook import load_program, source_of
from autograder.reference import reference
from autograder.release import main_release, solution_regions
from conftest import ROOT, SOLUTION

PROBE = Path(__file__).resolve().parent / "leak_probe.py"


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """(python of a fresh venv with only the student edition installed, its site-packages,
    the edition's folder). numpy, matplotlib and ipykernel come from the project's
    environment through a .pth file: nothing may download in a test."""
    tmp = tmp_path_factory.mktemp("student")
    dist = tmp / "dist"
    assert main_release(["--student-dist", str(dist), "--root", str(ROOT)]) == 0
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # (pip: 18 s)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "project-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", str(dist)], check=True, cwd=tmp)
    where = subprocess.run([str(py), "-c", "import autograder; print(autograder.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp).stdout.strip()
    assert where.startswith(str(site)), where   # the installed edition, not the project's
    return py, site, dist


def test_student_edition_installs_checks_and_hides_solutions(student, tmp_path):
    py, site, dist = student
    names = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assert "chapters/01_rnn_review.ipynb" in names and "autograder/selfcheck.py" in names
    assert "autograder/fixtures/01_rnn_review.npz" in names and "README.md" in names
    assert (dist / "LICENSE").read_text().startswith("MIT License")  # code; text: CC BY 4.0
    assert "Attribution 4.0 International Public License" in (dist / "LICENSE-TEXT").read_text()
    assert not any(n.startswith(("solutions/", "autograder/mistakes")) for n in names)
    assert not any(n.endswith(("grade.py", "reference.py", "sandbox.py", "make_fixtures.py"))
                   for n in names)
    # The stubs: a leak is most of a solution region (a one-line region: that line) showing up
    # in the notebooks; one generic line (`self.units = units`, a time loop) is not. (The
    # package is probed by behaviour below.)
    notebooks = "\n".join(p.read_text() for p in dist.rglob("*.ipynb"))
    for sol in sorted((ROOT / "solutions").glob("*.ipynb")):
        for region in solution_regions(sol):
            lines = [l.strip() for l in region if len(l.strip()) >= 12 and not l.strip().startswith("#")]
            in_notebooks = [l for l in lines if l in notebooks]
            assert not lines or len(in_notebooks) < max(1, len(lines) / 2), (sol.name, in_notebooks)

    code = "import numpy as np\nfrom autograder import check\n" + source_of(SOLUTION, "rnn_step_forward")
    code += """
ok = True
try:
    check(rnn_step_forward)
except AssertionError:
    ok = False
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh), None
try:
    check(rnn_step_forward)
    wrong_passed = True
except AssertionError:
    wrong_passed = False
print("RESULT", ok, wrong_passed)
"""
    (tmp_path / "student.py").write_text(code)
    done = subprocess.run([str(py), "student.py"], cwd=tmp_path, capture_output=True, text=True)
    assert "RESULT True False" in done.stdout, done.stdout + done.stderr
    assert "looks like: the bias b is missing" in done.stdout   # the stored mistakes' outputs


# -- the behavioural leak probe --------------------------------------------------------------

class Recorder:
    """Drives the reference like a student, recording the arguments the checks pass to the
    exercise's own function (or method): the exercise's arguments, exactly."""

    def __init__(self, ref, name):
        self.ref, self.name, self.calls = ref, name, []

    def has(self, name):
        return self.ref.has(name)

    def define(self, source, names=()):
        return self.ref.define(source, names)

    def call(self, name, *args, return_args=False):
        if name == self.name:
            self.calls.append(("call", args))
        elif name.startswith("_grader_") and args and args[0] == self.name:
            self.calls.append(("call", args[1:]))
        return self.ref.call(name, *args, return_args=return_args)

    def call_method(self, obj, method, *args):
        self.calls.append(("method", args))
        return self.ref.call_method(obj, method, *args)

    def getattr(self, obj, attr):
        return self.ref.getattr(obj, attr)

    def setattr(self, obj, attr, value):
        return self.ref.setattr(obj, attr, value)


def _portable(value):
    """The grader's cells (classes defined in the reference's namespace) as markers the
    probe turns back into cells."""
    if type(value).__name__ in CELL_NAMES:
        return ("__grader_cell__", type(value).__name__, value.W)
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_portable(v) for v in value)
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    return value


def _parameters(obj, method: bool) -> list[str]:
    fn = getattr(obj, "__call__") if method else obj
    names = [p.name for p in inspect.signature(fn).parameters.values()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return names[1:] if method and inspect.isfunction(fn) else names


def _not_yet(ci: int, ei: int) -> list[str]:
    """Exercise names a student at exercise `ei` of chapter `ci` has not written yet."""
    before = {e.name for e in CHAPTERS[ci].EXERCISES[:ei]}
    names = set()
    for cj, chapter in enumerate(CHAPTERS):
        for ej, e in enumerate(chapter.EXERCISES):
            if (cj == ci and ej >= ei) or (cj > ci and e.name not in before):
                names.add(e.name)
    return sorted(names)


def probe_spec() -> dict:
    """Every exercise's public cases as the probe needs them, computed here (the instructor's
    side): the calls' arguments, the inputs, the stored expected outputs, and the reference
    program the probe's `ref` runs."""
    spec = {"references": {}, "exercises": []}
    for ci, chapter in enumerate(CHAPTERS):
        program = load_program(ROOT / "solutions" / chapter.NOTEBOOK)
        spec["references"][chapter.__name__] = [(c.index, c.source, c.keep) for c in program.cells]
        ref = reference(chapter)
        for ei, ex in enumerate(chapter.EXERCISES):
            entry = {"chapter": chapter.__name__, "name": ex.name, "number": ex.number,
                     "property": ex.checks_fn is not None, "not_yet": _not_yet(ci, ei), "cases": []}
            spec["exercises"].append(entry)
            if entry["property"]:
                continue
            public = fixtures.Public(chapter, ex)
            for k, (dims, inputs) in enumerate(public.cases):
                rec = Recorder(ref, ex.name)
                run(ex, rec, inputs)
                variants = []
                for kind, args in rec.calls:
                    names = _parameters(ref.namespace[ex.name], kind == "method")
                    variants.append((args, dict(zip(names, args))))
                if ex.args and [a.name for a in ex.args] != list(variants[0][1]):
                    args = tuple(inputs[a.name] for a in ex.args)
                    variants.append((args, {a.name: v for a, v in zip(ex.args, args)}))
                case = {"inputs": inputs, "expected": public.expected(ex, inputs), "dims": dims,
                        "seed": fixtures.PUBLIC_SEED + k, "variants": variants}
                assert case["expected"], ex.name
                if ex.forward is not None:
                    case["cache"], case["douts"] = variants[0][0][-1], variants[0][0][:-1]
                entry["cases"].append(_portable(case))
    return spec


def _probe(py, tmp_path, *extra) -> dict:
    (tmp_path / "cases.pkl").write_bytes(pickle.dumps(probe_spec()))
    done = subprocess.run([str(py), str(PROBE), "cases.pkl", "report.json", *extra], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "report.json").read_text())


def test_nothing_in_the_student_edition_computes_an_answer(student, tmp_path):
    py, site, _ = student
    report = _probe(py, tmp_path)
    print(f"\nleak probe: {report['callables']} callables tried ({report['kinds']}, "
          f"{report['instances']} instances walked) on {report['cases']} public cases of "
          f"{report['exercises']} exercises: {report['calls']} calls made "
          f"({report['not bindable']} argument sets did not fit a signature)")
    assert report["autograder"].startswith(str(site))
    assert report["import_errors"] == []
    assert {"autograder.selfcheck", "autograder.exercises.gates", "autograder.fixtures"} <= set(report["modules"])
    assert not [m for m in report["modules"] if m.startswith(("autograder.mistakes", "autograder.grade",
                                                               "autograder.reference", "autograder.sandbox"))]
    assert report["exercises"] == sum(len(c.EXERCISES) for c in CHAPTERS)
    assert report["callables"] >= 100 and report["calls"] >= 10_000, report
    assert report["leaks"] == [], report["leaks"]


# Known-mistake helpers as they were in autograder/exercises/*.py before they moved to the
# instructor-only autograder/mistakes/ (verbatim): each is a correct implementation when
# called with its default arguments.
PUT_BACK = '''
import numpy as np


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # an exact identity, never overflows


def _step(i, h_rule="o*tanh(c)", c_rule="f*c+i*g", acts="ssts", bias=True):
    """An LSTM step with a switchable mistake (acts: i, f, g, o; s = sigmoid, t = tanh)."""
    act = {"s": _sigmoid, "t": np.tanh}
    a = i["x"] @ i["Wx"] + i["h_prev"] @ i["Wh"] + (i["b"] if bias else 0)   # (N, 4H)
    H = a.shape[1] // 4
    ig, fg, g, og = (act[acts[k]](a[:, k * H:(k + 1) * H]) for k in range(4))
    c_prev = i["c_prev"]
    c = {"f*c+i*g": fg * c_prev + ig * g, "i*c+f*g": ig * c_prev + fg * g,
         "f*c+g": fg * c_prev + g}[c_rule]
    h = {"o*tanh(c)": og * np.tanh(c), "o*c": og * c, "o*tanh(c_prev)": og * np.tanh(c_prev)}[h_rule]
    return {"h_next": h, "c_next": c}


def _count(D, H, gates=4, biases=1, recurrent=True):
    return {"count": gates * (D * H + (H * H if recurrent else 0) + biases * H)}


def steps_back(ref, inp, model: str, states: tuple[str, ...] = ("h0",),
               carry: tuple[str, ...] | None = None, accumulate: bool = True,
               direct: str = "all"):
    carry = states if carry is None else carry
    Wx, Wh, b = inp["Wx"], inp["Wh"], inp["b"]
    *_, caches = ref.call(f"{model}_forward", inp["x"], *(inp[s] for s in states), Wx, Wh, b)
    dh = inp["dh"]
    T = dh.shape[1]
    dx = np.zeros_like(inp["x"])
    grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    carried = [np.zeros_like(inp[s]) for s in states]
    for t in reversed(range(T)):
        upstream = dh[:, t] if (direct == "all" or t == T - 1) else 0 * dh[:, t]
        dx[:, t], *back = ref.call(f"{model}_step_backward", upstream + carried[0], *carried[1:],
                                   caches[t])
        d_states, step = back[:len(states)], back[len(states):]
        carried = [d if s in carry else 0 * d for s, d in zip(states, d_states)]
        grads = [g + s for g, s in zip(grads, step)] if accumulate else step
    return {"dx": dx, **{f"d{s}": d for s, d in zip(states, d_states)},
            "dWx": grads[0], "dWh": grads[1], "db": grads[2]}


def _lstm_step_back(cache, dh_next, dc_next, bug=""):
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c = cache
    tc = np.tanh(c)
    slope = {"no tanh'": 1.0, "1-c^2": 1.0 - c**2}.get(bug, 1.0 - tc**2)   # tanh' on h -> c
    dc = dh_next * o * slope + (0.0 if bug == "no dc_next" else dc_next)   # (N, H)
    d_i = dc * g * i * (1 - i)
    d_f = dc * (c if bug == "f uses c_next" else c_prev) * f * (1 - f)
    d_g = dc * i * (g * (1 - g) if bug == "candidate sigmoid'" else 1 - g**2)
    d_o = dh_next * (c if bug == "o uses c_next" else tc) * o * (1 - o)
    blocks = [d_i, d_f, d_o, d_g] if bug == "ifog" else [d_i, d_f, d_g, d_o]
    da = np.concatenate(blocks, axis=1)                                     # (N, 4H)
    dc_prev = dc if bug == "no f on the belt" else dc * f
    return {"dx": da @ Wx.T, "dh_prev": da @ Wh.T, "dc_prev": dc_prev, "dWx": x.T @ da,
            "dWh": h_prev.T @ da, "db": da.sum(axis=0)}

def _blocks(a):
    H = a.shape[-1] // 3
    return a[..., :H], a[..., H:2 * H], a[..., 2 * H:]


def _gru(i, reset="before", torch_z=False, bias=True, bh_inside=True, act=np.tanh, use_bh=True):
    """A GRU step with a switchable mistake (numpy, for feedback only)."""
    x, h = i["x"], i["h_prev"]
    bx = i["bx"] if "bx" in i else (i["b"] if bias else 0 * i["b"])
    bh = i["bh"] if "bh" in i and use_bh else 0.0
    xr, xz, xn = _blocks(x @ i["Wx"] + bx)                   # (N, H) each
    Whr, Whz, Whn = _blocks(i["Wh"])
    bhr, bhz, bhn = _blocks(bh) if np.ndim(bh) else (0.0, 0.0, 0.0)
    r = _sigmoid(xr + h @ Whr + bhr)
    z = _sigmoid(xz + h @ Whz + bhz)
    if reset == "before":
        n = act(xn + (r * h) @ Whn + bhn)
    elif reset == "after":
        n = act(xn + r * (h @ Whn + bhn)) if bh_inside else act(xn + r * (h @ Whn) + bhn)
    else:
        n = act(xn + h @ Whn + bhn)
    return {"h_next": z * h + (1 - z) * n if torch_z else (1 - z) * h + z * n}


def _gru_step_back(cache, dh_next, bug=""):
    x, h, Wx, Wh, r, z, n = cache
    H = h.shape[1]
    d_n = dh_next * z * (n * (1 - n) if bug == "candidate sigmoid'" else 1 - n**2)
    d_z = dh_next * ((h - n) if bug == "torch z" else (n - h)) * z * (1 - z)
    dq = d_n @ Wh[:, 2 * H:].T
    d_r = dq * (1.0 if bug == "no h_prev in dr" else h) * r * (1 - r)
    da = np.concatenate([d_r, d_z, d_n], axis=1)                            # (N, 3H)
    straight = 0.0 if bug == "no straight path" else dh_next * (1 - z)
    through_q = 0.0 if bug == "no dq*r" else dq * r
    dh_prev = straight + through_q + da[:, :2 * H] @ Wh[:, :2 * H].T
    q = h if bug == "dWh_n uses h_prev" else r * h
    dWh = np.concatenate([h.T @ da[:, :2 * H], q.T @ d_n], axis=1)
    return {"dx": da @ Wx.T, "dh_prev": dh_prev, "dWx": x.T @ da, "dWh": dWh, "db": da.sum(axis=0)}


# Not one of the old helpers: a correct initialiser, to show that exercises graded by
# properties (no stored answer to compare) are probed too.
def _uniform_like_glorot(shape, rng):
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)
'''


def test_the_probe_fires_when_a_known_mistake_helper_is_put_back(student, tmp_path):
    """The helpers the issue found, put back into the installed edition as one module."""
    py, site, _ = student
    module = site / "autograder" / "exercises" / "put_back.py"
    module.write_text(PUT_BACK)
    try:
        report = _probe(py, tmp_path, "--only", "autograder.exercises.put_back")
    finally:
        module.unlink()
    found = {(leak["callable"].rsplit(".", 1)[-1], leak["exercise"].split()[0]) for leak in report["leaks"]}
    print("\nput back:", sorted(found))
    for helper, exercise in [("_sigmoid", "3.1"), ("_step", "3.6"), ("_step", "3.8"), ("_count", "2.3"),
                             ("steps_back", "1.4"), ("steps_back", "5.4"), ("_lstm_step_back", "5.1"),
                             ("_gru", "4.1"), ("_gru_step_back", "5.3"),
                             ("_uniform_like_glorot", "2.1")]:
        assert (helper, exercise) in found, (helper, exercise, report["leaks"])


# -- a notebook opened anywhere --------------------------------------------------------------

CHAPTER_NOTEBOOKS = sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("name", CHAPTER_NOTEBOOKS)
def test_a_chapter_notebook_runs_alone_once_the_package_is_installed(name, student, tmp_path, monkeypatch):
    """A chapter downloaded alone (say into ~/Downloads) runs top to bottom in a kernel of
    the student's venv: its exercises stop at their stubs (the cells tagged
    raises-exception), nothing fails for want of data, and what it plots from the
    package's data (chapter 6's stored curves) is drawn."""
    import nbformat
    from nbclient import NotebookClient
    py, site, dist = student
    kernel = tmp_path / "jupyter" / "kernels" / "student-edition"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student edition", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    alone = tmp_path / "Downloads"
    alone.mkdir()
    shutil.copy(dist / "chapters" / name, alone)
    nb = nbformat.read(alone / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import autograder\nprint(autograder.__file__)"))
    # skip_cells_with_tag="": run every cell, as Jupyter does for a student (nbclient would
    # skip the `skip-execution` cells, which only the book must not run)
    NotebookClient(nb, kernel_name="student-edition", timeout=600, skip_cells_with_tag="",
                   resources={"metadata": {"path": str(alone)}}).execute()   # raises on an untagged error
    errors = [(k, o["ename"]) for k, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors and all(name in ("NotImplementedError", "CheckFailed") for _, name in errors), errors
    assert all("raises-exception" in nb.cells[k].metadata.get("tags", []) for k, _ in errors)
    plots = [c for c in nb.cells if c.cell_type == "code" and "data_path(" in c.source and "plt." in c.source]
    assert all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in plots)
    if name == "06_capstone.ipynb":
        assert plots   # the stored curves
    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert where.startswith(str(site)), where    # the installed package, not the project's

"""Tamper suite: wrong solutions that also attack the grader.

Each attack is a WRONG solution (rnn_step_forward without the bias, or rnn_backward that
returns zeros) plus some trick. The grader is safe when the trick changes nothing: the
graded score equals the honest score of the same wrong solution (graded once per module),
and the grading process, the fork server and the repository are unharmed. Attacks that
destroy the student's own process may only lower that student's score ("no gain").

The attack code sits where the grader really runs it: inside function bodies (called
during grading), class bodies and default-argument expressions (run when the notebook's
definitions load). Bare top-level calls never run in the grader.

When the tests run as root, the student process drops to an unprivileged uid (`Limits.uid`:
65534, or a uid of its own); a few attacks only make sense in that setting and are skipped
otherwise, with the reason given. Attack code imports only builtin or preloaded modules
(`_signal`, `_thread`): the sandbox user may not be able to read the rest of the stdlib.
Guarded attacks print why they stopped, so a test can tell "blocked by the sandbox" from
"never ran". Processes are only ever counted or killed (by pid) when this module's grading
started them, so another grader running on the machine is left alone.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from autograder.exercises import rnn_review
from autograder.grade import grade_notebook, main_grade
from autograder.notebook import load_program
from autograder.sandbox import NOBODY, Limits, Sandbox, Zygote
from conftest import SOLUTION, write_notebook

ROOT = Path(__file__).resolve().parent.parent


def _proc_info_early(pid: str) -> list[int] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return [int(u) for line in f if line.startswith("Uid:") for u in line.split()[1:]]
    except OSError:
        return None


SOLUTION_PATH = str(ROOT / "solutions" / "01_rnn_review.ipynb")
FIXTURES_PATH = str(ROOT / "autograder" / "fixtures" / "01_rnn_review.npz")
EXERCISES = [ex.name for ex in rnn_review.EXERCISES]
CHAPTER = "01_rnn_review"
AS_ROOT = os.getuid() == 0
# as root the student process drops to uid 65534 or to a uid of its own (>= UID_BASE)
try:
    from autograder.child import UID_BASE
except ImportError:
    UID_BASE = 1_000_000
SHARED_UID = Limits().uid == NOBODY   # every sandbox runs as the same uid (kill(-1) reaches them)
TMP = tempfile.gettempdir()
# kill(-1) from a sandbox running as the shared uid 65534 reaches every process of that uid
UNRELATED_NOBODY = sorted(int(p) for p in filter(str.isdigit, os.listdir("/proc"))
                          if AS_ROOT and SHARED_UID and (i := _proc_info_early(p)) and NOBODY in i)

FAST = Limits(call_seconds=3.0, load_seconds=10.0, memory_bytes=1 << 30)

# grader-side environment names a student must not see
GRADER_VARS = ("PYTEST_CURRENT_TEST", "VIRTUAL_ENV", "PYTEST_XDIST_WORKER", "SSH_AUTH_SOCK",
               "USER", "LOGNAME", "PWD", "OLDPWD", "TAMPER_CANARY")
STUDENT_ENV_ALLOWED = {"PATH", "LANG", "LC_CTYPE", "HOME", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                       "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}


# -- the wrong solutions and how to put an attack into them ------------------------------

def _block(code: str, indent: str = "    ") -> str:
    code = textwrap.dedent(code).strip("\n")
    return textwrap.indent(code, indent) + "\n" if code.strip() else ""


def _guarded(attack: str) -> str:
    """The attack inside try/except: if the sandbox blocks it, the wrong answer is returned."""
    if not attack.strip():
        return ""
    return ("try:\n" + _block(attack) + "except BaseException as _e:\n"
            "    print('ATTACK-STOPPED', type(_e).__name__, str(_e)[:200])\n")


# `_to_grader()` inside a student function: True when the caller is the grader's child loop,
# not the student's own code (so a lie is told to the grader only).
TO_GRADER = '''
import sys as _sys

def _to_grader():
    return _sys._getframe(2).f_globals.get("__name__") != "__main__"
'''


def _prelude(before) -> str:
    """Top-level code put before the function in its cell: a string or a list of pieces,
    each dedented on its own."""
    parts = [before] if isinstance(before, str) else list(before)
    text = "\n\n".join(textwrap.dedent(p).strip("\n") for p in parts if p.strip())
    return text + "\n\n" if text else ""


def no_bias(attack: str = "", *, guard: bool = True, before: str = "", ret: str = "h_next") -> dict:
    """rnn_step_forward with the bias missing (wrong), plus an attack in its body."""
    body = (_guarded(attack) if guard else textwrap.dedent(attack).strip("\n") + "\n")
    src = _prelude(before) + "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n" + _block(body) + _block(f"""
            h_next = np.tanh(x @ Wx + h_prev @ Wh)
            return {ret}, (x, h_prev, Wx, Wh, h_next)
            """)
    return {"rnn_step_forward": src}


def zero_backward(attack: str = "", *, guard: bool = True, before: str = "") -> dict:
    """rnn_backward that returns zeros (wrong), plus an attack in its body."""
    body = (_guarded(attack) if guard else textwrap.dedent(attack).strip("\n") + "\n")
    src = _prelude(before) + "def rnn_backward(dh, cache):\n" + _block(body) + _block("""
            x0, _, Wx, Wh, _ = cache[0]
            N, T, H = dh.shape
            return (np.zeros((N, T, x0.shape[1])), np.zeros((N, H)), np.zeros_like(Wx),
                    np.zeros_like(Wh), np.zeros(H))
            """)
    return {"rnn_backward": src}


WRONG = {"no_bias": no_bias(), "zero_backward": zero_backward()}


def scores(graded) -> dict:
    return {name: graded.exercise_score(name) for name in EXERCISES}


def feedback(graded) -> str:
    return "\n".join(f"{r.exercise}/{r.check}: {r.score} {r.message}" for r in graded.results)


def grade(tmp_path: Path, replace: dict, extra_cells=(), limits: Limits = FAST):
    path = write_notebook(tmp_path / f"attack_{uuid.uuid4().hex[:8]}.ipynb", replace,
                          extra_cells=list(extra_cells))
    return grade_notebook(path, chapter=CHAPTER, limits=limits)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """The honest scores of the wrong solutions, graded once."""
    folder = tmp_path_factory.mktemp("honest")
    out = {}
    for key, replace in WRONG.items():
        graded = grade_notebook(write_notebook(folder / f"{key}.ipynb", replace),
                                chapter=CHAPTER, limits=FAST)
        out[key] = scores(graded)
    # sanity: the wrong solutions really are wrong, and not worth zero either
    assert sum(out["no_bias"].values()) < 40 and out["no_bias"]["rnn_step_forward"] < 10
    assert out["zero_backward"]["rnn_backward"] < 10
    assert all(out["zero_backward"][n] == 10 for n in EXERCISES[:3])
    return out


# how a guarded attack stops when it never really ran (a bug of the test, not the sandbox
# blocking it): e.g. a stdlib module the sandbox user cannot read (here /root/.pyenv is not
# readable to uid 65534: only modules the fork server preloaded, and builtins, import)
NEVER_RAN = ("ModuleNotFoundError", "ImportError", "NameError", "SyntaxError", "IndentationError",
             "UnboundLocalError")


def assert_attack_ran(graded, allow=()):
    assert not [p for p in graded.problems if "syntax error" in p], graded.problems
    stopped = [line for line in graded.output.splitlines() if line.startswith("ATTACK-STOPPED")]
    if os.environ.get("TAMPER_DEBUG"):
        print("\nSTOPPED:", sorted({line[:150] for line in stopped})[:6])
    never = [line for line in stopped if line.split()[1] in NEVER_RAN and line.split()[1] not in allow]
    assert not never, f"the attack never really ran (fix the test): {never[:3]}"


def record(graded, honest_scores: dict):
    """With TAMPER_TABLE=FILE, add a row (attack, score under attack, honest score) to FILE:
    the table the issue asks for, made by the tests themselves."""
    path = os.environ.get("TAMPER_TABLE")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].rsplit(" (", 1)[0]
        with open(path, "a") as f:
            f.write(f"| {test} | {sum(scores(graded).values()):g} | {sum(honest_scores.values()):g} |\n")


def assert_honest(graded, honest_scores: dict, allow=()):
    """The attack changed nothing: every exercise scores what the wrong solution earns."""
    record(graded, honest_scores)
    assert_attack_ran(graded, allow)
    assert scores(graded) == honest_scores, feedback(graded)


def assert_no_gain(graded, honest_scores: dict, attacked: str):
    """The attack hurt only the attacker's own exercise (a crash, a timeout): no gain."""
    record(graded, honest_scores)
    assert_attack_ran(graded)
    got = scores(graded)
    assert got[attacked] <= honest_scores[attacked], feedback(graded)
    assert {k: v for k, v in got.items() if k != attacked} == \
        {k: v for k, v in honest_scores.items() if k != attacked}, feedback(graded)
    # every check of every exercise has a result: the grader went through to the end
    assert len(graded.results) == sum(len(ex.points) for ex in rnn_review.EXERCISES)


# -- processes: the fork server, and anything a student process left behind ---------------

def _proc_info(pid: str):
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    except OSError:
        return None
    return {"uids": [int(u) for u in fields.get("Uid", "").split()],
            "ppid": int(fields.get("PPid", "0").strip() or 0),
            "state": fields.get("State", "").strip()}


def _all_processes() -> dict[int, dict]:
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        info = _proc_info(pid)
        if info is not None:
            out[int(pid)] = info
    return out


# Every student process this module's grading started (the fork server's answer to "spawn"),
# and pids that attacks printed for the processes they detached. Only these, their
# descendants and processes running as their "unique" uids are ever counted or killed here:
# another grader running on the same machine is left alone.
_SPAWNED: dict[int, int | None] = {}     # pid -> its start time (so a reused pid is not ours)
_ANNOUNCED: dict[int, int | None] = {}


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _is_root(pid: int) -> bool:
    for table in (_SPAWNED, _ANNOUNCED):
        if pid in table and table[pid] is not None and table[pid] == _start_time(pid):
            return True
    return False


def ours() -> dict[int, str]:
    """Live or zombie processes started by this module's grading (pid -> state)."""
    procs = _all_processes()
    zygote = Zygote._instance.proc.pid if Zygote._instance else None
    found = {}
    for pid, info in procs.items():
        if pid == zygote or pid == os.getpid():
            continue
        mine = _is_root(pid) or any(u >= UID_BASE and u - UID_BASE in _SPAWNED for u in info["uids"])
        seen, up = set(), info["ppid"]
        while not mine and up > 1 and up not in seen and up in procs:   # a descendant of one?
            seen.add(up)
            mine = _is_root(up)
            up = procs[up]["ppid"]
        if mine:
            found[pid] = info["state"]
    return found


def kill_pids(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(seconds: float) -> dict[int, str]:
    """Our student processes still there after up to `seconds` (zombies included)."""
    deadline = time.monotonic() + seconds
    while True:
        left = ours()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def announced(output: str, tag: str) -> list[int]:
    """Pids an attack printed as `TAG pid` (processes it detached), remembered for cleanup."""
    pids = [int(line.split()[1]) for line in output.splitlines()
            if line.startswith(tag + " ") and line.split()[1].isdigit()]
    _ANNOUNCED.update({pid: _start_time(pid) for pid in pids})
    return pids


@pytest.fixture(autouse=True)
def track_sandboxes(monkeypatch):
    """Record the pid of each student process and the scratch folder of each sandbox."""
    scratches: list[str] = []
    real_spawn, real_start = Zygote.spawn, Sandbox.start

    def spawn(self):
        pid, channel = real_spawn(self)
        _SPAWNED[pid] = _start_time(pid)
        return pid, channel

    def start(self):
        try:
            return real_start(self)
        finally:
            scratches.append(self.scratch)

    monkeypatch.setattr(Zygote, "spawn", spawn)
    monkeypatch.setattr(Sandbox, "start", start)
    return scratches


@pytest.fixture
def strays():
    """Start with no leftovers of earlier tests (zombies waiting for init to reap them count
    against a shared sandbox uid's process limit); afterwards, kill by pid whatever this
    module started and is still alive."""
    Zygote.get()
    wait_gone(5.0)
    yield
    for _ in range(50):
        alive = [p for p, state in ours().items() if not state.startswith("Z")]
        if not alive:
            break
        kill_pids(alive)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def repo_snapshot():
    def digest():
        out = {}
        for sub in ("autograder", "solutions", "chapters"):
            for p in sorted((ROOT / sub).rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts:
                    out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out
    first = digest()
    return lambda: digest() == first


def probe(tmp_path: Path, source: str, name: str, *args, limits: Limits = FAST):
    """Run one helper function in a real sandbox and return what it returns."""
    path = write_notebook(tmp_path / f"probe_{uuid.uuid4().hex[:8]}.ipynb", extra_cells=[source])
    with Sandbox(load_program(path), limits) as sandbox:
        return sandbox.call(name, *args)


def run_with_watchdog(fn, seconds: float, unstick):
    """Run fn() in a thread; if it is still running after `seconds`, call unstick() until it
    ends. Returns (hung, result, exception)."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    hung = thread.is_alive()
    deadline = time.monotonic() + 60
    while thread.is_alive() and time.monotonic() < deadline:
        unstick()
        thread.join(0.3)
    return hung, box.get("value"), box.get("error")


def marker(prefix: str = "pwned") -> Path:
    return Path(TMP) / f"{prefix}_{uuid.uuid4().hex}"


# == 1. monkeypatching numpy in the student process =======================================

NUMPY_PATCHES = {
    "np.allclose always True": "np.allclose = lambda *a, **k: True",
    "np.testing.assert_allclose never raises":   # (np.testing itself needs unittest: replace it)
        "class _Testing:\n"
        "    assert_allclose = staticmethod(lambda *a, **k: None)\n"
        "    assert_array_almost_equal = staticmethod(lambda *a, **k: None)\n"
        "np.testing = _Testing",
    "np.array_equal / np.isfinite / np.isclose lie":
        "np.array_equal = lambda *a, **k: True\n"
        "np.isfinite = lambda a, *r, **k: np.ones(np.shape(a), bool)\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)",
    "np.abs / np.subtract / np.max return zeros":
        "np.abs = np.absolute = lambda a, *r, **k: 0 * np.asarray(a)\n"
        "np.max = np.amax = lambda *a, **k: 0.0\n"
        "np.subtract = lambda a, b, *r, **k: 0 * np.asarray(a)",
    "np.tanh replaced (would change a shared reference)":
        "if not hasattr(np, '_real_tanh'):\n"
        "    np._real_tanh = np.tanh\n"
        "    np.tanh = lambda a, *r, **k: np._real_tanh(np.asarray(a) + 1000.0)",
    "ndarray.__eq__/__sub__ patched in the type's dict":
        "import gc, ctypes\n"
        "d = gc.get_referents(np.ndarray.__dict__)[0]\n"
        "d['__eq__'] = lambda s, o: True\n"
        "d['__sub__'] = lambda s, o: np.zeros(np.shape(s))\n"
        "ctypes.pythonapi.PyType_Modified(ctypes.py_object(np.ndarray))",
}


@pytest.mark.parametrize("patch", NUMPY_PATCHES)
def test_numpy_monkeypatch_in_student_process(patch, tmp_path, honest):
    """Attack 1: patch numpy (allclose, testing, abs, tanh, ndarray.__eq__) before returning."""
    code = NUMPY_PATCHES[patch]
    if "tanh" in patch:   # the student keeps computing its (wrong) answer with the real tanh
        replace = no_bias(code, before="")
        replace["rnn_step_forward"] = replace["rnn_step_forward"].replace(
            "h_next = np.tanh(", "h_next = getattr(np, '_real_tanh', np.tanh)(")
    else:
        replace = no_bias(code)
    assert_honest(grade(tmp_path, replace), honest["no_bias"])


# == 2. redefining builtins ================================================================

BUILTIN_PATCHES = {
    "abs and max": "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.max = lambda *a, **k: 0",
    "isinstance says everything is an ndarray":
        "import builtins\n_real = builtins.isinstance\n"
        "builtins.isinstance = lambda o, t: True if t is np.ndarray else _real(o, t)",
    "float/round/sum lie": "import builtins\nbuiltins.float = lambda *a: 0.0\n"
                           "builtins.round = lambda *a, **k: 10\nbuiltins.sum = lambda *a, **k: 0",
}


@pytest.mark.parametrize("patch", BUILTIN_PATCHES)
def test_redefined_builtins_from_student_function(patch, tmp_path, honest):
    """Attack 2: redefine builtins (abs, max, isinstance, float...) after computing the answer."""
    # patch after the answer is computed, just before it goes back to the grader
    replace = no_bias(before=TO_GRADER, ret="(_patch(), h_next)[1]")
    replace["rnn_step_forward"] = (
        "def _patch():\n" + _block(_guarded(BUILTIN_PATCHES[patch])) + "\n"
        + replace["rnn_step_forward"])
    assert_honest(grade(tmp_path, replace), honest["no_bias"])


def test_redefined_builtins_in_class_body_at_load(tmp_path, honest):
    """Attack 2b: a class body (runs at load) redefines builtins.abs and builtins.max."""
    replace = no_bias(before="""
        import builtins as _b
        class _Evil:
            _b.abs = lambda x: 0
            _b.max = lambda *a, **k: 0
        """)
    assert_honest(grade(tmp_path, replace), honest["no_bias"])


# == 3. IPython hooks and input transformers ===============================================

FIX_BIAS = ('lambda lines: [l.replace("h_prev @ Wh)", "h_prev @ Wh + b)") for l in lines]')


def test_ipython_input_transformer_top_level(tmp_path, honest):
    """Attack 3a: a cell registers an input transformer that would add the bias to later cells."""
    replace = no_bias(before=f"get_ipython().input_transformers_cleanup.append({FIX_BIAS})\n"
                             f"get_ipython().input_transformers_post.append({FIX_BIAS})\n"
                             "%run " + SOLUTION_PATH)
    wrong_again = no_bias()["rnn_step_forward"]          # a later cell, "transformed" by the hook
    assert_honest(grade(tmp_path, replace, extra_cells=[wrong_again]), honest["no_bias"])


def test_ipython_hooks_inside_function_and_class_body(tmp_path, honest):
    """Attack 3b: IPython hooks from a class body (at load) and from inside the function."""
    hook = f"""
        try:
            from IPython import get_ipython as _g
        except ImportError:
            _g = lambda: None
        _ip = _g() or globals().get("get_ipython", lambda: None)()
        if _ip is not None:
            _ip.input_transformers_cleanup.append({FIX_BIAS})
            _ip.run_line_magic("run", {SOLUTION_PATH!r})
        """
    replace = no_bias(hook, before="class _Hook:\n" + _block(_guarded(hook)))
    assert_honest(grade(tmp_path, replace, extra_cells=[no_bias()["rnn_step_forward"]]),
                  honest["no_bias"])


# == 4. reading the reference from disk ======================================================

EXEC_REFERENCE = f"""
import json, ast
ns = {{"np": np}}
with open({SOLUTION_PATH!r}) as f:
    nb = json.load(f)
for c in nb["cells"]:
    if c["cell_type"] == "code":
        try:
            tree = ast.parse("".join(c["source"]))
        except SyntaxError:
            continue
        tree.body = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
        exec(compile(tree, "ref", "exec"), ns)
return ns["rnn_step_forward"](x, h_prev, Wx, Wh, b)
"""

READ_REFERENCE = {
    "open the solution notebook and exec it": EXEC_REFERENCE,
    "import autograder.reference (the grader's own loader)": """
        from autograder.reference import reference
        from autograder.exercises import rnn_review
        return reference(rnn_review).call("rnn_step_forward", x, h_prev, Wx, Wh, b)
        """,
    "look the inputs up in the public fixtures": f"""
        open({FIXTURES_PATH!r}, "rb").read()    # public cases only (the self-check ships them)
        with np.load({FIXTURES_PATH!r}) as f:   # needs zipfile, which may not import in the sandbox
            for k in f.files:
                if k.startswith("rnn_step_forward.") and k.endswith(".in.x") and \\
                        f[k].shape == x.shape and np.array_equal(f[k], x):
                    h = f[k[:-len("in.x")] + "out.h_next"]
                    return h, (x, h_prev, Wx, Wh, h)
        """,
    "read the grader's own files (exercises, grade.py)": f"""
        src = open({str(ROOT / 'autograder' / 'exercises' / 'rnn_review.py')!r}).read()
        src += open({str(ROOT / 'autograder' / 'grade.py')!r}).read()
        if "def rnn_step_forward" in src:
            ns = {{"np": np}}
            exec(src, ns)
            return ns["rnn_step_forward"](x, h_prev, Wx, Wh, b)
        """,
}


@pytest.mark.parametrize("how", READ_REFERENCE)
def test_reading_the_reference_does_not_pay(how, tmp_path, honest):
    """Attack 4: read solutions/, the fixtures or the grader's files and return the reference."""
    # np.load needs zipfile; autograder.* may be hidden from the sandbox: both stop the attack
    allow = ("ModuleNotFoundError",) if "fixtures" in how or "autograder.reference" in how else ()
    assert_honest(grade(tmp_path, no_bias(READ_REFERENCE[how])), honest["no_bias"], allow)


def test_student_cannot_read_the_solution_notebook(tmp_path):
    """Attack 4b: can the student process open solutions/01_rnn_review.ipynb at all?"""
    got = probe(tmp_path, """
        def try_read(path):
            try:
                with open(path, "rb") as f:
                    return len(f.read())
            except OSError as e:
                return type(e).__name__
        """, "try_read", SOLUTION_PATH)
    assert isinstance(got, str), f"the student process read {got} bytes of {SOLUTION_PATH}"


# == 5. environment sniffing =================================================================

def test_student_environment_has_no_grader_variables(tmp_path, monkeypatch):
    """Attack 5a: return dict(os.environ) and /proc/<ancestor>/environ from the student process."""
    monkeypatch.setenv("TAMPER_CANARY", "grader-secret-canary")
    got = probe(tmp_path, """
        import os

        def leak_env():
            ancestors, pid = {}, os.getppid()
            for _ in range(3):
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        ancestors[str(pid)] = f.read().decode(errors="replace")
                except OSError as e:
                    ancestors[str(pid)] = type(e).__name__
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        pid = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    break
            return dict(os.environ), ancestors
        """, "leak_env")
    env, ancestors = got
    assert not set(env) & set(GRADER_VARS), sorted(env)
    assert set(env) <= STUDENT_ENV_ALLOWED, sorted(set(env) - STUDENT_ENV_ALLOWED)
    assert env.get("HOME") == "/nonexistent"
    leaked = {pid: text[:200] for pid, text in ancestors.items()
              if any(v in text for v in ("PYTEST_CURRENT_TEST", "VIRTUAL_ENV", "grader-secret-canary"))}
    assert not leaked, f"the grader's environment is readable through /proc: {leaked}"


def test_environment_sniffing_does_not_pay(tmp_path, honest):
    """Attack 5b: add the bias only if the environment (or a parent's) says 'grader'."""
    attack = """
        import os
        seen = " ".join(os.environ)
        for pid in (os.getppid(), 1):
            try:
                seen += open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
            except OSError:
                pass
        if any(v in seen for v in ("PYTEST", "VIRTUAL_ENV", "/root")):
            h_next = np.tanh(x @ Wx + h_prev @ Wh + b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """
    assert_honest(grade(tmp_path, no_bias(attack)), honest["no_bias"])


# == 6. exits ================================================================================

EXITS = {
    "sys.exit()": "import sys\nsys.exit()",
    "os._exit(0)": "import os\nos._exit(0)",
    "raise SystemExit": "raise SystemExit(0)",
    "raise KeyboardInterrupt": "raise KeyboardInterrupt",
    "os.abort()": "import os\nos.abort()",
}


@pytest.mark.parametrize("how", EXITS)
def test_exit_inside_student_function(how, tmp_path, honest, strays):
    """Attack 6: sys.exit / os._exit / SystemExit / KeyboardInterrupt inside rnn_backward."""
    zygote = Zygote.get().proc.pid
    graded = grade(tmp_path, zero_backward(EXITS[how], guard=False))
    assert_no_gain(graded, honest["zero_backward"], "rnn_backward")
    assert Zygote.get().proc.pid == zygote and Zygote.get().proc.poll() is None


def test_exit_at_load_time(tmp_path, honest):
    """Attack 6b: raise SystemExit / KeyboardInterrupt in a class body while definitions load."""
    replace = zero_backward(before="""
        class _Quit:
            raise SystemExit(3)

        def _default(v=(_ for _ in ()).throw(KeyboardInterrupt)):
            return v
        """)
    assert_honest(grade(tmp_path, replace), honest["zero_backward"])


# == 7. signals to the grader ===============================================================

def _grandparent():
    return """
        def _ppid_of(pid):
            with open(f"/proc/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        """


SIGNALS = {
    "SIGKILL to the fork server (getppid)": "import os, _signal as signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "SIGTERM to the fork server (getppid)": "import os, _signal as signal\nos.kill(os.getppid(), signal.SIGTERM)",
    "SIGKILL to the grader (parent of the fork server)":
        "import os, _signal as signal\nos.kill(_ppid_of(os.getppid()), signal.SIGKILL)",
    "SIGSTOP to the grader and the fork server":
        "import os, _signal as signal\nos.kill(_ppid_of(os.getppid()), signal.SIGSTOP)\n"
        "os.kill(os.getppid(), signal.SIGSTOP)",
    "killpg(0, SIGKILL) (its own group)": "import os, _signal as signal\nos.killpg(0, signal.SIGKILL)",
    "kill(-1, SIGKILL) (every process it may signal)": "import os, _signal as signal\nos.kill(-1, signal.SIGKILL)",
}


@pytest.mark.parametrize("how", SIGNALS)
def test_signals_to_the_grader(how, tmp_path, honest, strays):
    """Attack 7: kill/stop the fork server or the grader, killpg(0), kill(-1) from rnn_backward."""
    if not AS_ROOT and "own group" not in how:
        pytest.skip("the student process only runs as another uid when the grader is root; "
                    "as the same uid this signal would hit the test runner itself")
    if "kill(-1" in how and UNRELATED_NOBODY:
        pytest.skip(f"other processes run as uid {NOBODY} here ({UNRELATED_NOBODY[:5]}): "
                    "kill(-1) from the sandbox would hit them")
    zygote = Zygote.get().proc.pid
    graded = grade(tmp_path, zero_backward(SIGNALS[how], before=_grandparent()))
    assert_no_gain(graded, honest["zero_backward"], "rnn_backward")
    if "own group" not in how and "kill(-1" not in how:   # blocked: nothing happened at all
        assert_honest(graded, honest["zero_backward"])
    assert Zygote.get().proc.pid == zygote and Zygote.get().proc.poll() is None
    assert _proc_info(str(os.getpid()))["state"][0] in "RS"   # this process is not stopped


# == 8. fork bomb, and processes that outlive grading =====================================

def test_fork_bomb_is_contained(tmp_path, honest, strays):
    """Attack 8: `while True: os.fork()` in rnn_backward: bounded, and nothing is left behind."""
    bomb = """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """
    start = time.monotonic()
    graded = grade(tmp_path, zero_backward(bomb, guard=False),
                   limits=Limits(call_seconds=1.0, memory_bytes=1 << 30, max_processes=64))
    assert time.monotonic() - start < 20
    assert_no_gain(graded, honest["zero_backward"], "rnn_backward")
    assert graded.exercise_score("rnn_backward") == 0
    left = wait_gone(4.0)    # zombies re-parented to init get a moment to be reaped
    assert not left, f"processes left after grading (pid: state): {left}"


def test_detached_process_does_not_outlive_grading(tmp_path, honest, strays):
    """Attack 8b: fork + setsid (leaves the process group the grader kills), then write a file later."""
    out = marker("escaped")
    attack = f"""
        import os, time
        global _started
        if not globals().get("_started"):
            _started = True
            if os.fork() == 0:
                try:
                    os.setsid()
                    print("DETACHED-STARTED", os.getpid(), flush=True)
                    time.sleep(1.5)
                    with open({str(out)!r}, "w") as f:
                        f.write("still running after grading")
                finally:
                    os._exit(0)
        """
    start = time.monotonic()
    try:
        graded = grade(tmp_path, zero_backward(attack))
        assert announced(graded.output, "DETACHED-STARTED"), "the attack did not run: " + graded.output
        assert_honest(graded, honest["zero_backward"])
        left = wait_gone(4.0)   # killed ones may wait a moment for init to reap them
        time.sleep(max(0.0, 2.0 - (time.monotonic() - start)))
        assert not left, f"a student process survived grading (pid: state): {left}"
        assert not out.exists(), "a student process wrote a file after its grading ended"
    finally:
        out.unlink(missing_ok=True)


@pytest.mark.skipif(not AS_ROOT, reason="kill(-1) as the grader's own uid would kill the test runner")
@pytest.mark.skipif(bool(UNRELATED_NOBODY), reason=f"unrelated uid-{NOBODY} processes would be killed")
def test_lingering_process_cannot_sabotage_the_next_submission(tmp_path, honest, strays):
    """Attack 8c: a detached process keeps doing kill(-1): with a shared sandbox uid, the next student's sandbox."""
    flag = marker("lingering")
    attack = f"""
        import os, time, _signal as signal
        try:
            os.close(os.open({str(flag)!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            first = True
        except OSError:
            first = False
        if first and os.fork() == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    print("LINGERING-STARTED", os.getpid(), flush=True)
                    time.sleep(0.5)
                    end = time.time() + 20
                    while time.time() < end:
                        try:
                            os.kill(-1, signal.SIGKILL)
                        except OSError:
                            pass
                        time.sleep(0.002)
            finally:
                os._exit(0)
        """
    try:
        attacker = grade(tmp_path, zero_backward(attack))
        assert announced(attacker.output, "LINGERING-STARTED"), "the attack did not run: " + attacker.output
        assert_no_gain(attacker, honest["zero_backward"], "rnn_backward")
        time.sleep(0.7)
        victim = grade_notebook(SOLUTION, chapter=CHAPTER, limits=FAST)
        assert victim.score == 40, "the next submission was sabotaged:\n" + feedback(victim)
    finally:
        flag.unlink(missing_ok=True)


# == 9. memory ===============================================================================

ALLOCATIONS = {
    "np.ones((1 << 31,))": "big = np.ones((1 << 31,))",
    "bytearray(8 << 30)": "big = bytearray(8 << 30)",
    "np.empty((1 << 40,))": "big = np.empty((1 << 40,))",
    "a list growing forever": "grow = []\nwhile True:\n    grow.append(bytearray(1 << 20))",
}


@pytest.mark.parametrize("how", ALLOCATIONS)
def test_huge_allocation(how, tmp_path, honest):
    """Attack 9: multi-GB allocations and a list growing forever inside rnn_backward."""
    graded = grade(tmp_path, zero_backward(ALLOCATIONS[how]),
                   limits=Limits(call_seconds=8.0, memory_bytes=768 << 20))
    assert_honest(graded, honest["zero_backward"])


# == 10. infinite loops =======================================================================

LOOPS = {
    "while True: pass": "while True:\n    pass",
    "ignores SIGTERM/SIGINT/SIGALRM, loops in finally": """
        import _signal as signal
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):
            signal.signal(s, signal.SIG_IGN)
        try:
            while True:
                pass
        finally:
            while True:
                pass
        """,
}


@pytest.mark.parametrize("how", LOOPS)
def test_infinite_loop_times_out(how, tmp_path, honest, strays):
    """Attack 10: an infinite loop in rnn_backward with Limits(call_seconds=1.0)."""
    start = time.monotonic()
    graded = grade(tmp_path, zero_backward(LOOPS[how], guard=False),
                   limits=Limits(call_seconds=1.0, memory_bytes=1 << 30))
    assert time.monotonic() - start < 10
    assert_no_gain(graded, honest["zero_backward"], "rnn_backward")
    assert "did not finish" in feedback(graded)


def test_infinite_loop_at_load_time(tmp_path, honest, strays, track_sandboxes):
    """Attack 10b: a class body that writes a file into its scratch dir, then never ends (at load)."""
    start = time.monotonic()
    graded = grade(tmp_path, zero_backward(before="""
        class _Forever:
            open("left-behind.bin", "wb").write(b"x" * 1000)
            while True:
                pass
        """), limits=Limits(call_seconds=1.0, load_seconds=1.0, memory_bytes=1 << 30))
    left = [d for d in track_sandboxes if d and os.path.isdir(d)]
    for folder in left:   # made by this test's grading: clean up after the assertion below
        shutil.rmtree(folder, ignore_errors=True)
    assert time.monotonic() - start < 15
    assert graded.score == 0 and len(graded.results) == 14
    assert not left, f"scratch folders (with the student's files) left behind: {sorted(left)}"


# == 11. writing outside the scratch directory ===============================================

def _write(path: Path) -> str:
    return f"""
        with open({str(path)!r}, "w") as f:
            f.write("pwned")
        """


@pytest.mark.parametrize("where", ["tmp", "autograder", "solutions"])
def test_writes_outside_scratch(where, tmp_path, honest, repo_snapshot):
    """Attack 11: create files in /tmp, in autograder/ and in solutions/ from the student function."""
    target = {"tmp": marker(), "autograder": ROOT / "autograder" / f"pwned_{uuid.uuid4().hex}",
              "solutions": ROOT / "solutions" / f"pwned_{uuid.uuid4().hex}.ipynb"}[where]
    try:
        graded = grade(tmp_path, no_bias(_write(target)))
        assert_honest(graded, honest["no_bias"])
        assert not target.exists(), f"the student process created {target}"
        assert repo_snapshot(), "a repository file changed during grading"
    finally:
        target.unlink(missing_ok=True)


def test_writes_into_the_grader_output_dir(tmp_path, honest, repo_snapshot):
    """Attack 11b: write into the --out folder (grades.csv, another student's results) during grading."""
    base = Path(tempfile.mkdtemp(prefix="tamper-out-"))
    os.chmod(base, 0o755)                      # as a course folder would be
    out = base / "grades"
    main_grade([str(write_notebook(tmp_path / "first.ipynb", WRONG["no_bias"])), "--out", str(out),
                "--chapter", CHAPTER, "--timeout", "3"])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    attack = f"""
        import os
        for p in ({str(out / 'grades.csv')!r}, {str(out / 'first' / 'results.json')!r},
                  {str(out / 'pwned.txt')!r}):
            try:
                with open(p, "w") as f:
                    f.write("student,40")
            except OSError:
                pass
        """
    try:
        nb = write_notebook(tmp_path / "second.ipynb", no_bias(attack))
        assert main_grade([str(nb), "--out", str(out), "--chapter", CHAPTER, "--timeout", "3"]) == 0
        assert not (out / "pwned.txt").exists()
        assert all(p.read_bytes() == data for p, data in before.items() if p.name != "grades.csv")
        rows = (out / "grades.csv").read_text()
        assert "student,40" not in rows and "first" in rows and "second" in rows
        assert repo_snapshot()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_student_cannot_open_repo_files_for_writing(tmp_path):
    """Attack 11c: open the solution, the grader and the fixtures for writing (nothing is written)."""
    targets = [SOLUTION_PATH, FIXTURES_PATH, str(ROOT / "autograder" / "grade.py"),
               str(ROOT / "autograder" / "exercises" / "rnn_review.py")]
    got = probe(tmp_path, """
        import os
        def can_open_for_writing(paths):
            out = {}
            for p in paths:
                try:
                    os.close(os.open(p, os.O_WRONLY | os.O_APPEND))
                    out[p] = True
                except OSError:
                    out[p] = False
            return out
        """, "can_open_for_writing", targets)
    assert not any(got.values()), got


# == 12. returned objects that lie about their type =========================================

LIARS = {
    "ndarray subclass: __eq__ True, __sub__/__array_ufunc__/__abs__ zeros": ("""
        class Liar(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(self), bool)
            def __ne__(self, other): return np.zeros(np.shape(self), bool)
            def __sub__(self, other): return np.zeros(np.shape(self))
            def __rsub__(self, other): return np.zeros(np.shape(self))
            def __abs__(self): return np.zeros(np.shape(self))
            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                return np.zeros(np.shape(self))
            def astype(self, *a, **k): return self
        """, "h_next.view(Liar)"),
    "object whose __array__ computes the right answer lazily": ("""
        class Lazy:
            def __init__(self, f): self.f = f
            def __array__(self, dtype=None, copy=None): return self.f()
            shape = property(lambda self: self.f().shape)
            dtype = np.dtype("float64")
        """, "Lazy(lambda: np.tanh(x @ Wx + h_prev @ Wh + b))"),
    "NaN-filled array": ("", "np.full_like(h_next, np.nan)"),
    "inf and 1e308 entries": ("", "np.where(h_next > 0, 1e308, -np.inf)"),
    "dict pretending to be an array (and a wire node)": ("""
        def as_fake(a):
            return {"nd": 0, "dtype": "<f8", "shape": list(a.shape), "__array_interface__": {
                "shape": a.shape, "typestr": "<f8", "data": a.tobytes().hex(), "version": 3}}
        """, "as_fake(np.tanh(x @ Wx + h_prev @ Wh + b))"),
    "nested lists holding the right values": ("", "np.tanh(x @ Wx + h_prev @ Wh + b).tolist()"),
    "masked array hiding every wrong entry": ("", "np.ma.masked_array(h_next, mask=True)"),
    "np.matrix of the wrong values": ("", "np.asmatrix(h_next)"),
}


@pytest.mark.parametrize("liar", LIARS)
def test_returned_objects_that_lie(liar, tmp_path, honest):
    """Attack 12: return a lying object (ndarray subclass, __array__, NaN, dict, list...) to the grader."""
    before, value = LIARS[liar]
    replace = no_bias(before=[TO_GRADER, before],
                      ret=f"({value} if _to_grader() else h_next)")
    assert_honest(grade(tmp_path, replace), honest["no_bias"])


# == 13. pickling tricks on the way back =====================================================

def test_pickle_payloads_never_run_in_the_grader(tmp_path, honest):
    """Attack 13: objects with __reduce__/__reduce_ex__/__setstate__ that write a marker when unpickled."""
    mark = tmp_path / "unpickled-in-grader"
    payload = f"open({str(mark)!r}, 'w').write(str(__import__('os').getpid()))"
    before = [TO_GRADER, f"""
        import os

        class Bomb:
            def __reduce__(self):
                return (exec, ({payload!r},))

        class Bomb2:
            def __reduce_ex__(self, protocol):
                return (exec, ({payload!r},))

        class Bomb3:
            def __getstate__(self):
                return {{}}
            def __setstate__(self, state):
                exec({payload!r})
        """]
    replace = no_bias(before=before,
                      ret="((Bomb(), [Bomb2()], {'h': Bomb3()}) if _to_grader() else h_next)")
    # and the cache that stays behind is a bomb too
    replace["rnn_step_forward"] = replace["rnn_step_forward"].replace(
        "(x, h_prev, Wx, Wh, h_next)", "((x, h_prev, Wx, Wh, h_next) if not _to_grader() else Bomb())")
    graded = grade(tmp_path, replace)
    assert not mark.exists(), f"a payload ran (pid {mark.read_text()}; grader is {os.getpid()})"
    # the step's own exercise lost nothing it had; the others use the honest path
    assert scores(graded)["rnn_step_forward"] <= honest["no_bias"]["rnn_step_forward"]
    assert {k: v for k, v in scores(graded).items() if k not in ("rnn_step_forward", "rnn_step_backward")} == \
        {k: v for k, v in honest["no_bias"].items() if k not in ("rnn_step_forward", "rnn_step_backward")}


# == 14. threads =============================================================================

def test_thread_mutating_returned_arrays(tmp_path, honest):
    """Attack 14a: a thread keeps overwriting the arrays handed back to the grader (with NaN)."""
    before = [TO_GRADER, """
        import _thread as _th, time as _time
        _returned = []

        def _spoil():
            end = _time.time() + 2.0
            while _time.time() < end:
                for a in list(_returned):
                    a[...] = np.nan
                _time.sleep(0.001)

        def _hand_back(a):
            _returned.append(a)
            if not globals().get("_spoiler"):
                globals()["_spoiler"] = _th.start_new_thread(_spoil, ())
            return a
        """]
    replace = no_bias(before=before, ret="(_hand_back(h_next.copy()) if _to_grader() else h_next)")
    assert_honest(grade(tmp_path, replace), honest["no_bias"])


def test_daemon_thread_writing_after_grading(tmp_path, honest):
    """Attack 14b: a daemon thread sleeps, then writes a file (after the sandbox should be gone)."""
    out = marker("thread")
    attack = f"""
        import _thread, time
        def _later():
            time.sleep(1.5)
            with open({str(out)!r}, "w") as f:
                f.write("thread outlived its sandbox")
        if not globals().get("_thread_started"):
            globals()["_thread_started"] = True
            _thread.start_new_thread(_later, ())
        """
    start = time.monotonic()
    try:
        graded = grade(tmp_path, zero_backward(attack))
        assert_honest(graded, honest["zero_backward"])
        time.sleep(max(0.0, 2.5 - (time.monotonic() - start)))
        assert not out.exists()
    finally:
        out.unlink(missing_ok=True)


# == 15. state across calls ===================================================================

CACHES = {
    "records the first call's inputs": """
        global _first
        if not globals().get("_first"):
            _first = (x.copy(), h_prev.copy(), Wx.copy(), Wh.copy(), b.copy())
        """,
    "memoizes answers by input bytes": """
        global _memo
        _memo = globals().get("_memo") or {}
        key = (x.tobytes(), h_prev.tobytes(), Wx.tobytes(), Wh.tobytes(), b.tobytes())
        if key in _memo:
            return _memo[key]
        h_next = np.tanh(x @ Wx + h_prev @ Wh)
        _memo[key] = (h_next, (x, h_prev, Wx, Wh, h_next))
        return _memo[key]
        """,
}


@pytest.mark.parametrize("how", CACHES)
def test_state_cached_across_calls_is_harmless(how, tmp_path, honest):
    """Attack 15: a global that records inputs or memoizes answers across calls (harmless)."""
    assert_honest(grade(tmp_path, no_bias(CACHES[how])), honest["no_bias"])


GRADCHECK_DETECTORS = {
    "by the gradcheck's shape (N, T, D, H) = (2, 3, 3, 4)": "(N, T, D, h0.shape[1]) == (2, 3, 3, 4)",
    "by counting calls (a global)": "_count() > 7",
}


@pytest.mark.parametrize("how", GRADCHECK_DETECTORS)
def test_gradcheck_cannot_be_gamed_by_a_forward_that_detects_it(how, tmp_path, honest):
    """Attack 15b: rnn_forward returns a constant during the gradcheck, so a zero backward 'matches'."""
    forward = f"""
        def _count():
            globals()["_calls"] = globals().get("_calls", 0) + 1
            return globals()["_calls"]

        def rnn_forward(x, h0, Wx, Wh, b):
            N, T, D = x.shape
            h, caches, h_t = np.zeros((N, T, h0.shape[1])), [], h0
            for t in range(T):
                h_t, c = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)
                h[:, t] = h_t
                caches.append(c)
            if {GRADCHECK_DETECTORS[how]}:
                h = np.zeros_like(h)          # the loss no longer depends on anything
            return h, caches
        """
    graded = grade(tmp_path, {**WRONG["zero_backward"], "rnn_forward": forward})
    assert_honest(graded, honest["zero_backward"])


# == extra: the channel and the output file ==================================================

def test_half_sent_answer_does_not_hang_the_grader(tmp_path, honest, strays):
    """Extra A: send only a length prefix on the grader's socket, then sleep: the timeout must still apply."""
    attack = """
        import gc, struct, time
        for obj in gc.get_objects():
            if type(obj).__name__ == "Channel":
                obj.sock.sendall(struct.pack("<Q", 1000))
        time.sleep(3600)
        """

    def unstick():   # kill this test's sandbox processes, by pid
        kill_pids(p for p, state in ours().items() if not state.startswith("Z"))

    limits = Limits(call_seconds=1.0, memory_bytes=1 << 30)
    hung, graded, error = run_with_watchdog(
        lambda: grade(tmp_path, zero_backward(attack, guard=False), limits=limits), 5.0, unstick)
    assert error is None, repr(error)
    assert not hung, "grading hung on a half-sent answer (the call timeout did not apply)"
    assert_no_gain(graded, honest["zero_backward"], "rnn_backward")


def test_output_file_replaced_by_a_fifo_does_not_hang_the_grader(tmp_path, honest, track_sandboxes):
    """Extra B: replace the scratch .output.txt by a named pipe: the grader must not block reading it."""
    attack = """
        import os
        os.unlink(".output.txt")
        os.mkfifo(".output.txt", 0o666)
        """

    def unstick():   # open this test's pipes for writing so the blocked reader gets EOF
        for folder in track_sandboxes:
            path = os.path.join(folder or "", ".output.txt")
            try:
                if stat.S_ISFIFO(os.lstat(path).st_mode):
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    hung, graded, error = run_with_watchdog(
        lambda: grade(tmp_path, zero_backward(attack)), 5.0, unstick)
    assert error is None, repr(error)
    assert not hung, "grading blocked opening a FIFO the student put in place of .output.txt"
    assert_honest(graded, honest["zero_backward"])


@pytest.mark.skipif(not AS_ROOT, reason="without a uid change the student can read the grader's files "
                                         "directly; the symlink adds nothing")
def test_output_file_symlink_does_not_leak_grader_files(tmp_path, honest):
    """Extra C: replace .output.txt by a symlink to a root-only file; its text must not reach the feedback."""
    secret = tmp_path / "root-only-secret.txt"
    secret.write_text("TOP-SECRET-" + uuid.uuid4().hex)
    os.chmod(secret, 0o600)
    attack = f"""
        import os
        os.unlink(".output.txt")
        os.symlink({str(secret)!r}, ".output.txt")
        """
    graded = grade(tmp_path, zero_backward(attack))
    assert_honest(graded, honest["zero_backward"])
    assert "TOP-SECRET" not in graded.output, \
        "a root-only file was read through the student's symlink and put in the feedback"


# == 16. the disk-reading attacks without CAP_SYS_ADMIN (Docker's default capabilities) ======
# Without CAP_SYS_ADMIN no mount namespace can be made, so nothing is covered by a tmpfs:
# what keeps the reference from the student's uid is then the uid change and the modes
# the grader sets on the hidden folders (`sandbox.protect`). The attacks that read the disk
# run again in a pytest under `capsh --drop=cap_sys_admin`, and must gain nothing there too.

DISK_READING = ("test_reading_the_reference_does_not_pay or test_student_cannot_read_the_solution "
                "or test_output_file_symlink or test_reference_never_reaches_the_feedback "
                "or test_this_run_really_lacks_cap_sys_admin")
WITHOUT_SYS_ADMIN = os.environ.get("TAMPER_WITHOUT_SYS_ADMIN") == "1"


def _cap_sys_admin() -> bool:
    with open("/proc/self/status") as f:
        eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return bool(eff & (1 << 21))


def test_reference_never_reaches_the_feedback(tmp_path, honest):
    """Attack 4c: read the solution notebook (at load time and in a call) and print it, so
    that it would come back in the feedback."""
    attack = f"""
        for _p in ({SOLUTION_PATH!r}, {FIXTURES_PATH!r}):
            try:
                with open(_p, "rb") as _f:
                    print("LEAK:", _p, _f.read()[:3000])
            except OSError as _e:
                print("NO-LEAK", type(_e).__name__)
        """
    graded = grade(tmp_path, no_bias(attack, before=["import numpy as np", textwrap.dedent(attack)]))
    assert_honest(graded, honest["no_bias"])
    written = feedback(graded) + graded.output + "\n".join(graded.problems)
    assert "LEAK:" not in written and "NO-LEAK" in graded.output


@pytest.mark.skipif(not WITHOUT_SYS_ADMIN, reason="only in the run under capsh --drop=cap_sys_admin")
def test_this_run_really_lacks_cap_sys_admin():
    import ctypes
    assert not _cap_sys_admin()
    pid = os.fork()
    if pid == 0:   # a mount namespace cannot be made: only the modes protect the reference
        os._exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) != 0 else 1)
    assert os.waitpid(pid, 0)[1] == 0


@pytest.mark.skipif(not AS_ROOT, reason="the attacks are rerun as root without CAP_SYS_ADMIN; "
                                        "not root here")
def test_disk_reading_attacks_gain_nothing_without_cap_sys_admin(tmp_path):
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("capsh is not installed (Debian: libcap2-bin): the disk-reading attacks were "
                    "not rerun without CAP_SYS_ADMIN")
    if WITHOUT_SYS_ADMIN or not _cap_sys_admin():
        pytest.skip("this run already lacks CAP_SYS_ADMIN: the attacks above ran without it")
    import subprocess
    import sys
    table = os.environ.get("TAMPER_TABLE_NO_SYS_ADMIN") or str(tmp_path / "table.md")
    env = {**os.environ, "TAMPER_WITHOUT_SYS_ADMIN": "1", "TAMPER_TABLE": table}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = (f"{sys.executable} -m pytest -q -rs -p no:cacheprovider -p no:xdist "
               f"{Path(__file__)} -k '{DISK_READING}'")
    done = subprocess.run([capsh, "--drop=cap_sys_admin", "--", "-c", command], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    print(done.stdout[-1500:])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary.replace("1 skipped", ""), summary
    assert int(summary.split(" passed")[0].split()[-1]) >= len(READ_REFERENCE) + 3

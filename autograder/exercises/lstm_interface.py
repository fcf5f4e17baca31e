"""Chapter 2, the LSTM interface: initialisers, parameter count, the cell contract and
the layer loop. References: solutions/02_lstm_interface.ipynb.

Initialisers are random, so they are graded by properties (bounds, variance,
orthonormality, drawing from the given rng), never by matching one draw. run_cell is
graded with cells the grader supplies, so it can be graded before any LSTM exists.
Ships in the student package: the known mistakes are in autograder/mistakes/lstm_interface.py.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import CheckResult, explain_error
from autograder.exercise import Arg, Exercise, WrongReturn
from autograder.errors import StudentError

NOTEBOOK = "02_lstm_interface.ipynb"
TITLE = "The LSTM interface"
# case letters of this chapter's own (see book_view.LABELS)
CASE_LABELS = {"np": "1 if the sizes are numpy integers (np.int64), as X.shape gives them, "
                     "rather than Python ints"}

# Helpers run in the student's process: the rng is made there (it cannot travel).
WITH_RNG = '''
def _grader_with_rng(fn_name, seed, *args):
    import numpy
    return globals()[fn_name](*args, numpy.random.default_rng(seed))

def _grader_build(cell, input_dim, seed):
    import numpy
    return cell.build(input_dim, numpy.random.default_rng(seed))
'''


class _Report:
    """Collects property-check results; the first student error fails what is left."""

    def __init__(self, ex):
        self.ex, self.results = ex, []

    def add(self, check: str, problem: str | None, passed_msg: str = "ok"):
        pts = self.ex.points[check]
        if problem is None:
            self.results.append(CheckResult(self.ex.name, check, pts, pts, "passed", passed_msg))
        else:
            self.results.append(CheckResult(self.ex.name, check, pts, 0.0, "failed", problem))

    def fail_rest(self, message: str):
        done = {r.check for r in self.results}
        for check, pts in self.ex.points.items():
            if check not in done:
                self.results.append(CheckResult(self.ex.name, check, pts, 0.0, "error", message))
        return self.results


def _array(value, name, shape):
    if not isinstance(value, np.ndarray):
        return f"{name} should be a numpy array of shape {shape}, got {type(value).__name__}"
    if value.shape != tuple(shape):
        return f"{name} has shape {value.shape}, expected {tuple(shape)}"
    if value.dtype != np.float64:
        return f"{name} has dtype {value.dtype}, expected float64"
    if not np.all(np.isfinite(value)):
        return f"{name} contains NaN or inf"
    return None


# build's docstring: Wx = glorot_uniform((D, 4H), rng) drawn first, then Wh = orthogonal((H, 4H),
# rng). Run in the student's process with the student's own initialisers: was Wh drawn first?
BUILD_ORDER = '''
def _grader_wh_drawn_first(cell, input_dim, seed):
    import numpy
    H = cell.units
    rng = numpy.random.default_rng(seed)
    in_order = (numpy.array_equal(cell.Wx, glorot_uniform((input_dim, 4 * H), rng))
                and numpy.array_equal(cell.Wh, orthogonal((H, 4 * H), rng)))
    rng = numpy.random.default_rng(seed)
    swapped = numpy.array_equal(cell.Wh, orthogonal((H, 4 * H), rng))
    return (not in_order) and swapped
'''


def _sign_problem(Q, seed, shape):
    """The docstring's recipe without its sign correction gives these columns up to sign."""
    rows, cols = shape
    A = np.random.default_rng(seed).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(A)
    want = q * np.sign(np.diag(r))
    want = want if rows >= cols else want.T
    if Q.shape == want.shape and not np.allclose(Q, want) and np.allclose(np.abs(Q), np.abs(want)):
        return ("the sign correction is missing: multiply column j of Q by sign(R[j, j]) (the "
                "docstring's third equation); without it Q is not uniformly distributed")
    return None


def _draw(student, name, seed, shape):
    student.define(WITH_RNG, names=("_grader_with_rng", "_grader_build"))
    return student.call("_grader_with_rng", name, seed, tuple(shape))


def _draws(report, ex, student, seed, shapes, letter):
    """Draw each shape, and the first shape again with the same and with another seed;
    check shapes. None (with the report filled in) when nothing more can be checked."""
    try:
        draws = {shape: _draw(student, ex.name, seed, shape) for shape in shapes}
        again = _draw(student, ex.name, seed, shapes[0])
        other = _draw(student, ex.name, seed + 1, shapes[0])
    except StudentError as e:
        report.fail_rest(explain_error(e, ex.name))
        return None
    problem = next((p for s, M in draws.items() if (p := _array(M, f"{letter} for shape {s}", s))), None)
    report.add("shape", problem)
    if problem:
        report.fail_rest("not checked: fix the shape first")
        return None
    return draws, again, other


# -- 2.1 glorot_uniform -----------------------------------------------------------------------

GLOROT_SHAPES = ((400, 300), (3, 8), (1, 1))


def glorot_problems(W, fan_in, fan_out, name="W"):
    """Bounds and variance of a Glorot-uniform draw (None when fine)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    top = float(np.max(np.abs(W)))
    if top > limit * (1 + 1e-12):
        ratio = top / limit
        if abs(ratio - np.sqrt((fan_in + fan_out) / fan_in)) < 0.05:
            why = "; the limit looks like sqrt(6 / fan_in): it is sqrt(6 / (fan_in + fan_out))"
        elif W.size > 100 and np.mean(np.abs(W) > limit) > 0.001:
            why = "; the values look normally distributed: draw uniformly in [-limit, limit]"
        else:
            why = ""
        return (f"{name}: |entries| reach {top:.4g}, above the limit sqrt(6 / (fan_in + fan_out)) "
                f"= {limit:.4g} for shape ({fan_in}, {fan_out}){why}")
    if W.size >= 1000 and top < 0.9 * limit:
        # uniform in [-top, top] (variance top^2 / 3): the range is whole, its limit is wrong
        uniform = abs(float(W.var()) / (top ** 2 / 3) - 1) < 0.05
        why = ("the entries look uniform in [-limit, limit] with the wrong limit: it is "
               "sqrt(6 / (fan_in + fan_out))" if uniform else
               "draw uniformly from the whole range [-limit, limit]")
        return (f"{name}: the largest |entry| is {top:.4g}, far below the limit {limit:.4g}: {why}")
    return None


def _glorot_checks(ex, student, seed):
    report = _Report(ex)
    drawn = _draws(report, ex, student, seed, GLOROT_SHAPES, "W")
    if drawn is None:
        return report.results
    draws, again, other = drawn
    report.add("bounds", next((p for s, W in draws.items() if (p := glorot_problems(W, *s))), None))
    W = draws[GLOROT_SHAPES[0]]
    limit2 = 6.0 / sum(GLOROT_SHAPES[0])
    var, mean = float(W.var()), float(W.mean())
    spread = np.sqrt(limit2 / 3 / W.size)
    problem = None
    if abs(var / (limit2 / 3) - 1) > 0.05:
        problem = (f"the variance is {var:.4g}; a uniform draw in [-limit, limit] has variance "
                   f"limit^2 / 3 = {limit2 / 3:.4g} = 2 / (fan_in + fan_out)")
    elif abs(mean) > 6 * spread:
        problem = f"the mean is {mean:.3g}, not 0: the range should be symmetric, [-limit, limit]"
    report.add("variance", problem)
    if not np.array_equal(W, again):
        problem = ("two calls with generators of the same seed gave different matrices: draw from "
                   "the `rng` argument (rng.uniform), not from np.random")
    elif np.array_equal(W, other):
        problem = "generators with different seeds gave the same matrix: draw from the `rng` argument"
    else:
        problem = None
    report.add("rng", problem, "the same seed gives the same matrix, another seed another")
    return report.results


glorot_uniform = Exercise(
    name="glorot_uniform", number="2.1", args=(), returns=("W",), axes={},
    points={"shape": 2, "bounds": 3, "variance": 3, "rng": 2}, checks_fn=_glorot_checks)


# -- 2.2 orthogonal ---------------------------------------------------------------------------

ORTHO_SHAPES = ((8, 8), (5, 20), (20, 5), (1, 1), (1, 4))


def orthogonal_problem(Q, name="Q", tol=1e-10):
    rows, cols = Q.shape
    gram, which = (Q.T @ Q, "Q^T Q") if rows >= cols else (Q @ Q.T, "Q Q^T")
    err = float(np.max(np.abs(gram - np.eye(len(gram)))))
    if err <= tol:
        return None
    off = float(np.max(np.abs(gram - np.diag(np.diag(gram)))))
    hint = ""
    wide, narrow = max(rows, cols), min(rows, cols)
    blocks = (np.split(Q, wide // narrow, axis=1 if rows < cols else 0)
              if rows != cols and wide % narrow == 0 else [])
    if blocks and all(np.allclose(B.T @ B, np.eye(narrow), atol=tol) for B in blocks):
        hint = (f": it is {len(blocks)} orthogonal ({narrow}, {narrow}) blocks side by side (one per "
                f"gate?); the whole {Q.shape} matrix must be orthogonal, drawn in one call, "
                f"orthogonal({Q.shape})")
    elif off <= tol:
        hint = ": the vectors are orthogonal but not of length 1 (normalise them)"
    elif rows != cols:
        other = Q @ Q.T if rows >= cols else Q.T @ Q
        if np.allclose(other, np.eye(len(other)), atol=tol):
            hint = ": the wrong side is orthonormal (for rows < cols the rows must be orthonormal)"
    return f"{name} of shape {Q.shape}: {which} differs from the identity by {err:.3g}{hint}"


def _orthogonal_checks(ex, student, seed):
    report = _Report(ex)
    drawn = _draws(report, ex, student, seed, ORTHO_SHAPES, "Q")
    if drawn is None:
        return report.results
    draws, again, other = drawn
    report.add("orthonormal", next((p for Q in draws.values() if (p := orthogonal_problem(Q))), None))
    Q = draws[ORTHO_SHAPES[0]]
    if not np.array_equal(Q, again):
        problem = "the same seed gave different matrices: draw from the `rng` argument"
    elif np.array_equal(Q, other) or np.allclose(np.abs(Q), np.eye(len(Q))):
        problem = "the matrix does not depend on the seed (or is the identity): it must be random"
    else:
        problem = _sign_problem(Q, seed, ORTHO_SHAPES[0])
    report.add("rng", problem, "random, and the same seed gives the same matrix")
    return report.results


orthogonal = Exercise(
    name="orthogonal", number="2.2", args=(), returns=("Q",), axes={},
    points={"shape": 2, "orthonormal": 5, "rng": 3}, checks_fn=_orthogonal_checks)


# -- 2.3 lstm_param_count ---------------------------------------------------------------------

def _count_inputs(d, seed):
    # the docstring says int: Python ints, and numpy ints in the cases marked "np" (a
    # shape read from an array, X.shape[1], is one)
    as_int = np.int64 if d.get("np") else int
    return {"input_dim": as_int(d["D"]), "units": as_int(d["H"])}


lstm_param_count = Exercise(
    name="lstm_param_count", number="2.3", args=(Arg("input_dim", ""), Arg("units", "")),
    returns=("count",), axes={"count": ""}, points={"values": 7, "edges": 3}, tol=0.0,
    integers=("count",), inputs_fn=_count_inputs,
    hidden_dims=({"D": 32, "H": 64}, {"D": 100, "H": 7, "np": 1}, {"D": 3, "H": 250}),
    edge_dims=({"D": 1, "H": 1}, {"D": 1, "H": 5, "np": 1}),
    public_dims=({"D": 32, "H": 64}, {"D": 1, "H": 1, "np": 1}))


# -- 2.4 LSTMCell (construction, build, initial state) -----------------------------------------

def _attribute(student, obj, name):
    """obj.name, or a string saying it is missing (for the message)."""
    try:
        return student.getattr(obj, name)
    except StudentError:
        return "missing"


def _cell_checks(ex, student, seed):
    report = _Report(ex)
    D, H, N = 5, 3, 4
    try:
        student.define(WITH_RNG, names=("_grader_with_rng", "_grader_build"))
        cell = student.call("LSTMCell", H)
        state_size, units = student.getattr(cell, "state_size"), student.getattr(cell, "units")
        built_before = _attribute(student, cell, "built")
        ok = tuple(state_size) == (H, H) if isinstance(state_size, (tuple, list)) else False
        report.add("state_size", (None if built_before is False else
                                  f"LSTMCell({H}).built should be False until build has run (the "
                                  f"docstring's `built` attribute); got {built_before!r}")
                   if ok and units == H else
                   f"LSTMCell({H}) should have units == {H} and state_size == ({H}, {H}); "
                   f"got units={units!r}, state_size={state_size!r}")
        student.call("_grader_build", cell, D, seed)
        Wx, Wh, b = (student.getattr(cell, a) for a in ("Wx", "Wh", "b"))
        built_after = _attribute(student, cell, "built")
        try:
            student.define(BUILD_ORDER, names=("_grader_wh_drawn_first",))
            wh_first = student.call("_grader_wh_drawn_first", cell, D, seed) is True
        except StudentError:   # its initialisers fail on their own: told in 2.1 and 2.2
            wh_first = False
    except StudentError as e:
        return report.fail_rest(explain_error(e, "LSTMCell"))
    shapes = [_array(Wx, "Wx", (D, 4 * H)), _array(Wh, "Wh", (H, 4 * H)), _array(b, "b", (4 * H,))]
    problem = next((p for p in shapes if p), None)
    report.add("build", problem or glorot_problems(Wx, D, 4 * H, "Wx") or orthogonal_problem(Wh, "Wh")
               or ("build draws Wh before Wx: the docstring draws Wx first, then Wh, from the same "
                   "rng (so a seed gives the same weights as everyone's)" if wh_first else None)
               or (None if built_after is True else
                   f"after build, built should be True (the docstring's `built` attribute); got "
                   f"{built_after!r}"),
               "Wx (D, 4H) Glorot-uniform, Wh (H, 4H) with orthonormal rows")
    if shapes[2]:   # (only b's own shape matters here)
        report.add("forget_bias", "not checked: b has the wrong shape")
    else:
        want = np.zeros(4 * H)
        want[H:2 * H] = 1.0
        hint = ""
        if np.array_equal(b, np.ones(4 * H)):
            hint = ": only the forget gate's block is 1, the others are 0"
        elif np.array_equal(b[:H], np.ones(H)):
            hint = ": the forget gate is the second block, b[H:2H] (order i, f, g, o)"
        report.add("forget_bias", None if np.array_equal(b, want) else
                   f"b should be 0 except the forget gate's block b[{H}:{2 * H}] = 1{hint}")
    try:
        state = student.call_method(cell, "get_initial_state", N)
    except StudentError as e:
        return report.fail_rest(explain_error(e, "LSTMCell.get_initial_state"))
    if not isinstance(state, (list, tuple)) or len(state) != 2:
        problem = "get_initial_state should return a list [h, c] of two arrays"
    else:
        problem = _array(state[0], "h", (N, H)) or _array(state[1], "c", (N, H))
        if problem is None and (np.any(state[0]) or np.any(state[1])):
            problem = "the initial states should be zeros"
    report.add("initial_state", problem, f"two zero arrays of shape ({N}, {H})")
    return report.results


lstm_cell = Exercise(
    name="LSTMCell", number="2.4", args=(), returns=(), axes={},
    points={"state_size": 2, "build": 3, "forget_bias": 3, "initial_state": 2},
    checks_fn=_cell_checks, needs=("glorot_uniform", "orthogonal"))


# -- 2.5 run_cell ------------------------------------------------------------------------------

GRADER_CELLS = '''
class _GraderTwoStateCell:
    """States [h, c]: c adds x @ W, h follows tanh(c); the output is not h on purpose."""
    def __init__(self, W):
        import numpy
        self.np, self.W = numpy, W
        self.units = W.shape[1]
        self.state_size = (self.units, self.units)
    def get_initial_state(self, batch_size):
        return [self.np.zeros((batch_size, self.units)), self.np.full((batch_size, self.units), 0.5)]
    def __call__(self, x, states):
        h, c = states
        c = c + x @ self.W
        h = self.np.tanh(c) + 0.5 * h
        return 2.0 * h + 1.0, [h, c]

class _GraderOneStateCell:
    """One state, like a GRU: the loop must not assume two."""
    def __init__(self, W):
        import numpy
        self.np, self.W = numpy, W
        self.units = W.shape[1]
        self.state_size = self.units
    def get_initial_state(self, batch_size):
        return [self.np.full((batch_size, self.units), -0.25)]
    def __call__(self, x, states):
        s = self.np.tanh(x @ self.W + states[0])
        return s * s, [s]
'''
CELL_NAMES = ("_GraderTwoStateCell", "_GraderOneStateCell")


def _run_inputs(d, seed):
    rng = np.random.default_rng(seed)
    N, T, D, H = d["N"], d["T"], d["D"], d["H"]
    inputs = {"x": rng.normal(size=(N, T, D)), "W": rng.normal(size=(D, H)) / np.sqrt(D),
              "return_sequences": bool(d["seq"]), "return_state": bool(d["state"]),
              "cell": int(d["cell"]), "init": bool(d["init"])}
    for k in range(2 - int(d["cell"])):
        inputs[f"s{k}"] = rng.normal(size=(N, H)) * 0.5
    return inputs


def _call_run_cell(student, i):
    student.define(GRADER_CELLS, names=CELL_NAMES)
    kind = int(i["cell"])
    cell = student.call(CELL_NAMES[kind], i["W"])
    n_states = 2 - kind
    init = [i[f"s{k}"] for k in range(n_states)] if bool(i["init"]) else None
    seq, with_state = bool(i["return_sequences"]), bool(i["return_state"])
    value, after = student.call("run_cell", cell, i["x"], init, seq, with_state, return_args=True)
    args_after = {"x": after[1]}
    if init is not None and isinstance(after[2], (list, tuple)):
        args_after.update({f"s{k}": s for k, s in enumerate(after[2])})
    if not with_state:
        return {"output": value}, args_after
    names = ("output",) + tuple(f"state {k + 1}" for k in range(n_states))
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else type(value).__name__
        raise WrongReturn(f"with return_state=True and a cell of {n_states} state(s), run_cell should "
                          f"return (output, {', '.join(names[1:])}); it returned {got}")
    return dict(zip(names, value)), args_after


RUN_DIMS = tuple({"N": n, "T": t, "D": d, "H": h, "seq": s, "state": st, "init": ini, "cell": c}
                 for n, t, d, h, s, st, ini, c in (
                     (3, 4, 2, 3, 1, 1, 1, 0), (2, 5, 3, 2, 0, 1, 0, 0), (4, 3, 2, 4, 1, 0, 0, 1),
                     (2, 4, 3, 3, 0, 0, 1, 0), (3, 3, 2, 2, 1, 1, 0, 1)))
RUN_EDGES = ({"N": 1, "T": 1, "D": 1, "H": 1, "seq": 1, "state": 1, "init": 0, "cell": 0},
             {"N": 2, "T": 1, "D": 2, "H": 3, "seq": 0, "state": 1, "init": 1, "cell": 1},
             {"N": 1, "T": 6, "D": 1, "H": 1, "seq": 1, "state": 0, "init": 1, "cell": 0})

run_cell = Exercise(
    name="run_cell", number="2.5", args=(Arg("x", "NTD"),), returns=("output",),
    axes={"output": "", "state 1": "NH", "state 2": "NH"}, points={"values": 5, "edges": 3, "no_modify": 2},
    inputs_fn=_run_inputs, call_fn=_call_run_cell, hidden_dims=RUN_DIMS, edge_dims=RUN_EDGES,
    public_dims=(RUN_DIMS[0], RUN_EDGES[1]))

EXERCISES = (glorot_uniform, orthogonal, lstm_param_count, lstm_cell, run_cell)

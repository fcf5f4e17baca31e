"""What an exercise is: how to call the student's function and what comes back.

An exercise names its arguments (with their axes, e.g. x: "NTD"), what the function
returns, and which returned values are compared. The same `run` drives the reference
(in the grader), the student in the sandbox (grading) and the student in the notebook
(self-check): each is an object with `call(name, *args, return_args=False)`.

Exercise specs ship in the student package: nothing reachable from an Exercise (its
inputs_fn, call_fn, checks_fn) may compute an answer. Known mistakes live in
autograder/mistakes/ (instructor only); the self-check reads their stored outputs.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from autograder.errors import NotDefined, StudentError


@dataclass(frozen=True)
class Arg:
    name: str
    axes: str                                   # one letter per axis, e.g. "NTD"
    scale: Callable[[dict], float] = lambda dims: 1.0   # std of the random entries

    def shape(self, dims: dict) -> tuple:
        return tuple(dims[a] for a in self.axes)


def fan_in(letter: str) -> Callable[[dict], float]:
    """Scale weights by 1/sqrt(fan-in) so tanh and sigmoid are not saturated."""
    return lambda dims: 1.0 / np.sqrt(dims[letter])


class WrongReturn(Exception):
    """The function returned something of the wrong kind (message for the student)."""


@dataclass
class Exercise:
    name: str                      # the function the student writes
    number: str                    # "1.1", as in the notebook's heading
    args: tuple[Arg, ...]          # in call order
    returns: tuple[str, ...]       # names of what it returns, in order ("h", "cache")
    axes: dict[str, str]           # returned values that are compared, with their axes
    points: dict[str, float]       # check name -> points
    tol: float = 1e-7
    integers: tuple[str, ...] = ()  # returned values the docstring calls an int
    # names of the gate blocks along a fused axis (G or K); None: i, f, g, o for G, r, z, n for K
    blocks: tuple[str, ...] | None = None
    hidden_dims: tuple = ()        # dims of the randomized hidden cases
    edge_dims: tuple = ()          # N=1, T=1, H=1 and friends
    public_dims: tuple = ()        # the cases stored in the fixtures
    grad_dims: dict = field(default_factory=dict)   # small case for finite differences
    # backward exercises: the forward they differentiate
    forward: "Exercise | None" = None
    douts: tuple[Arg, ...] = ()    # upstream gradients, in the backward's call order
    dout_of: dict[str, str] = field(default_factory=dict)   # forward output -> its dout arg
    grad_of: dict[str, str] = field(default_factory=dict)   # returned grad -> forward arg
    # exercises that return their own scalar loss with its gradients (no separate forward):
    # the gradient check differentiates this output of the exercise itself
    loss_output: str | None = None
    needs: tuple[str, ...] = ()    # other student functions this one calls through
    # (known-wrong versions, for feedback, are not here: this module and the exercise
    # specs ship in the student package, so the catalogue is autograder/mistakes/)
    # exercises that are not "call a function on random arrays":
    inputs_fn: Callable | None = None   # (dims, seed) -> inputs (ints, flags, ...)
    call_fn: Callable | None = None     # (student, inputs) -> (outputs by name, args after)
    checks_fn: Callable | None = None   # (ex, student, seed) -> [CheckResult]: property checks
    no_share: bool = False   # the docstring promises outputs share no memory with the inputs

    @property
    def all_args(self) -> tuple[Arg, ...]:
        return (self.forward.args + self.douts) if self.forward else self.args

    def make_inputs(self, dims: dict, seed: int) -> dict[str, np.ndarray]:
        if self.inputs_fn is not None:
            return self.inputs_fn(dims, seed)
        rng = np.random.default_rng(seed)
        return {a.name: rng.normal(size=a.shape(dims)) * a.scale(dims) for a in self.all_args}

    def shapes(self, dims: dict) -> dict[str, tuple]:
        return {n: tuple(dims[c] for c in ax) for n, ax in self.axes.items()}

    @property
    def max_points(self) -> float:
        return float(sum(self.points.values()))


def unpack(value, names: tuple[str, ...], fn: str):
    """Split a returned tuple into named parts, or explain what is wrong with it."""
    if len(names) == 1:
        return {names[0]: value}
    expected = f"a tuple ({', '.join(names)})"
    if not isinstance(value, (tuple, list)):
        what = f"a single {type(value).__name__}" if not hasattr(value, "type_name") else value.type_name
        if isinstance(value, np.ndarray):
            what = f"a single array of shape {value.shape}"
        raise WrongReturn(f"{fn} should return {expected}; it returned {what}")
    if len(value) != len(names):
        raise WrongReturn(f"{fn} should return {expected} ({len(names)} values); "
                          f"it returned {len(value)} values")
    return dict(zip(names, value))


def run(ex: Exercise, student, inputs: dict, return_args: bool = False):
    """Call the exercise on `inputs`; return (outputs by name, {arg: value after the call}).

    Backward exercises first call the student's forward to get the student's own cache."""
    copy = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    if ex.call_fn is not None:   # e.g. build an object first, then call its method
        return ex.call_fn(student, copy)
    if ex.forward is None:
        value, after = student.call(ex.name, *(copy[a.name] for a in ex.args), return_args=True)
        names = [a.name for a in ex.args]
    else:
        fwd = ex.forward
        got = unpack(student.call(fwd.name, *(copy[a.name] for a in fwd.args)), fwd.returns, fwd.name)
        value, after = student.call(ex.name, *(copy[d.name] for d in ex.douts), got["cache"],
                                    return_args=True)
        names = [d.name for d in ex.douts]
        after = after[:len(names)] if after is not None else None
    outputs = unpack(value, ex.returns, ex.name)
    return outputs, (dict(zip(names, after)) if after is not None else {})


class LocalStudent:
    """Call functions in this process (the reference in the grader, or the student's
    own functions in the notebook self-check). Exceptions become StudentError."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def has(self, name: str) -> bool:
        return name in self.namespace

    def define(self, source: str, names=()):
        """Run grader-supplied helper code in the namespace (as Sandbox.define does)."""
        exec(compile(source, "<grader>", "exec"), self.namespace)

    def _guard(self, action):
        try:
            return action()
        except Exception as e:  # noqa: BLE001
            tb = traceback.extract_tb(e.__traceback__)[2:]
            trace = "".join(traceback.format_list(tb) + traceback.format_exception_only(type(e), e))
            raise StudentError(type(e).__name__, str(e), trace[-4000:]) from None

    def call_method(self, obj, method: str, *args):
        return self._guard(lambda: getattr(obj, method)(*args))

    def getattr(self, obj, attr: str):
        return self._guard(lambda: getattr(obj, attr))

    def setattr(self, obj, attr: str, value):
        return self._guard(lambda: setattr(obj, attr, value))

    def call(self, name: str, *args, return_args: bool = False):
        if name not in self.namespace:
            raise NotDefined(name)
        try:
            value = self.namespace[name](*args)
        except Exception as e:  # noqa: BLE001  (reported to the student, not raised)
            tb = traceback.extract_tb(e.__traceback__)[1:]
            trace = "".join(traceback.format_list(tb) + traceback.format_exception_only(type(e), e))
            raise StudentError(type(e).__name__, str(e), trace[-4000:]) from None
        return (value, args) if return_args else value

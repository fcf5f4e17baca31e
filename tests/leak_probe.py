"""The behavioural leak probe, run by tests/test_student_dist.py with the Python of a fresh
venv where only the student edition is installed:

    python leak_probe.py CASES.pkl OUT.json [--only MODULE_PREFIX]

It imports every module of the installed `autograder` package, walks everything reachable
from them (functions, lambdas, closures' cells, default arguments, nested functions without
free variables, classes and their methods, instances such as the Exercise specs and their
bound methods, dicts/lists/tuples of those, and what calls return), and calls each callable
on the public cases of every exercise, in several ways:

    args      the exercise's arguments in order (a backward: the douts, then the cache)
    kwargs    the same as keyword arguments
    by name   each parameter filled from its name (x, h_prev, cache, inputs/i/inp, ref,
              model/kind, ...), so `steps_back(ref, inp, model)` is called as it would be used
    dict      one dict of the inputs (the convention of the old mistake helpers: `_step(i)`)
    ref,dict  a student-like `ref` and the dict (`lambda ref, i: ...`)
    cache,d   a backward's cache first, then its douts

`ref` runs the reference solutions of the exercise's chapter WITHOUT this exercise and the
ones after it: what a student who did the earlier exercises has. A call that returns every
compared output of the exercise (anywhere in what it returns: a tuple, a dict, nested) is
a leak. Exercises graded by properties (initialisers, LSTMCell's build) are checked by
running their own property checks on each callable: a callable that passes them all is a
leak. This file uses only the standard library, numpy and the installed package.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import pickle
import pkgutil
import signal
import sys
import types

import numpy as np

SECONDS = 2.0            # per call
MAX_CALLABLES = 5000
MAX_INSTANCES_PER_CLASS = 4
MAX_LEAVES = 64


class Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise Timeout()


def ours(obj) -> bool:
    mod = getattr(obj, "__module__", None)
    return isinstance(mod, str) and (mod == "autograder" or mod.startswith("autograder."))


def label(obj) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    if isinstance(obj, types.MethodType):
        return f"{getattr(obj.__func__, '__module__', '?')}.{obj.__func__.__qualname__} (bound)"
    return f"{getattr(obj, '__module__', '?')}.{name}"


class Walker:
    """Everything of the package reachable from its modules (and, later, from results)."""

    def __init__(self):
        self.seen: set[int] = set()
        self.keep: list = []                        # keeps ids valid
        self.callables: list = []
        self.instances: dict[type, list] = {}
        self.kinds = {"functions": 0, "classes": 0, "bound methods": 0, "nested": 0}

    def add_callable(self, f, kind):
        if len(self.callables) < MAX_CALLABLES:
            self.callables.append(f)
            self.kinds[kind] += 1

    def walk(self, obj, depth=0):
        if depth > 12 or id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        self.keep.append(obj)
        if isinstance(obj, types.ModuleType):
            if ours(obj) or obj.__name__.startswith("autograder"):
                for v in list(vars(obj).values()):
                    self.walk(v, depth + 1)
            return
        if isinstance(obj, (dict, types.MappingProxyType)):
            for v in list(obj.values()):
                self.walk(v, depth + 1)
            return
        if isinstance(obj, (list, tuple, set, frozenset)):
            for v in list(obj):
                self.walk(v, depth + 1)
            return
        if isinstance(obj, functools.partial):
            self.walk(obj.func, depth + 1)
            self.walk(obj.args, depth + 1)
            return
        if isinstance(obj, (staticmethod, classmethod)):
            self.walk(obj.__func__, depth + 1)
            return
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset):
                if f is not None:
                    self.walk(f, depth + 1)
            return
        if isinstance(obj, types.FunctionType):
            if not ours(obj):
                return
            self.add_callable(obj, "functions")
            for v in (obj.__defaults__ or ()):
                self.walk(v, depth + 1)
            self.walk(obj.__kwdefaults__ or {}, depth + 1)
            for cell in (obj.__closure__ or ()):
                try:
                    self.walk(cell.cell_contents, depth + 1)
                except ValueError:   # an empty cell
                    pass
            self._nested(obj.__code__, obj.__globals__, depth)
            return
        if isinstance(obj, types.MethodType):
            if ours(obj.__func__):
                self.add_callable(obj, "bound methods")
                self.walk(obj.__func__, depth + 1)
                self.walk(obj.__self__, depth + 1)
            return
        if isinstance(obj, type):
            if not ours(obj):
                return
            self.add_callable(obj, "classes")
            for v in list(vars(obj).values()):
                self.walk(v, depth + 1)
            return
        if ours(type(obj)):   # an instance of one of the package's classes
            seen = self.instances.setdefault(type(obj), [])
            if len(seen) < MAX_INSTANCES_PER_CLASS:
                seen.append(obj)
                for klass in type(obj).__mro__:
                    if not ours(klass):
                        continue
                    for name, v in list(vars(klass).items()):
                        if isinstance(v, types.FunctionType) and not name.startswith("__"):
                            self.walk(getattr(obj, name), depth + 1)
                        elif name == "__call__":
                            self.walk(getattr(obj, name), depth + 1)
                        elif isinstance(v, property):
                            try:
                                self.walk(getattr(obj, name), depth + 1)
                            except Exception:  # noqa: BLE001
                                pass
            fields = dataclasses.fields(obj) if dataclasses.is_dataclass(obj) else ()
            for f in fields:
                self.walk(getattr(obj, f.name, None), depth + 1)
            self.walk(getattr(obj, "__dict__", {}), depth + 1)

    def _nested(self, code, globals_, depth):
        """Functions defined inside a function: callable on their own when they close over
        nothing (those that do are reached through what their maker returns). Not the
        code of a comprehension: it is no function (called, it crashes the interpreter)."""
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                comprehension = const.co_name in ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")
                if not const.co_freevars and not comprehension and id(const) not in self.seen:
                    self.seen.add(id(const))
                    fn = types.FunctionType(const, globals_, const.co_name)
                    self.keep.append(fn)
                    self.add_callable(fn, "nested")
                self._nested(const, globals_, depth)


def fresh(value):
    """A copy of the arrays and containers in `value` (a call may modify its arguments);
    other objects (the ref, the grader's cells) are shared."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [fresh(v) for v in value]
    if isinstance(value, tuple):
        return tuple(fresh(v) for v in value)
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    return value


def leaves(value, out=None, depth=0):
    """The arrays and numbers anywhere in a returned value."""
    out = [] if out is None else out
    if len(out) >= MAX_LEAVES or depth > 4:
        return out
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub":
            out.append(value)
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        out.append(np.asarray(value))
    elif isinstance(value, dict):
        for v in list(value.values())[:MAX_LEAVES]:
            leaves(v, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in list(value)[:MAX_LEAVES]:
            leaves(v, out, depth + 1)
    elif ours(type(value)) and hasattr(value, "__dict__"):   # e.g. a result object's fields
        for v in list(vars(value).values())[:MAX_LEAVES]:
            leaves(v, out, depth + 1)
    return out


def same(a: np.ndarray, e: np.ndarray) -> bool:
    if a.shape != e.shape:
        return False
    with np.errstate(all="ignore"):
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            return False
        scale = float(np.max(np.abs(e), initial=0.0))
        return bool(np.allclose(a, e, rtol=1e-6, atol=1e-9 * scale))


def returns_expected(value, expected: dict) -> bool:
    found = leaves(value)
    return bool(expected) and all(any(same(x, e) for x in found) for e in expected.values())


class StudentStub:
    """A student namespace, driven like the checks drive a student (call, define, ...)."""

    def __init__(self, namespace: dict, errors):
        self.namespace, self.errors = namespace, errors

    def has(self, name):
        return name in self.namespace

    def define(self, source, names=()):
        exec(compile(source, "<grader>", "exec"), self.namespace)

    def _guard(self, action):
        try:
            return action()
        except self.errors.StudentError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self.errors.StudentError(type(e).__name__, str(e)) from None

    def call(self, name, *args, return_args=False):
        if name not in self.namespace:
            raise self.errors.NotDefined(name)
        value = self._guard(lambda: self.namespace[name](*args))
        return (value, args) if return_args else value

    def call_method(self, obj, method, *args):
        return self._guard(lambda: getattr(obj, method)(*args))

    def getattr(self, obj, attr):
        return self._guard(lambda: getattr(obj, attr))

    def setattr(self, obj, attr, value):
        return self._guard(lambda: setattr(obj, attr, value))


def load_reference(cells) -> dict:
    """Run the kept top-level statements of the reference notebook (as the grader does)."""
    ns = {"__name__": "reference", "__builtins__": builtins}
    for index, source, keep in cells:
        body = ast.parse(source).body
        for k in keep:
            try:
                exec(compile(ast.Module(body=[body[k]], type_ignores=[]), f"<cell {index}>", "exec"), ns)
            except BaseException:  # noqa: BLE001
                pass
    return ns


def _not_yet(name):
    def missing(*args, **kwargs):
        raise NameError(f"{name} is not written yet")
    return missing


class Probe:
    def __init__(self, spec, only):
        import autograder
        from autograder import errors
        self.errors = errors
        self.spec, self.only = spec, only
        self.walker = Walker()
        self.import_errors = []
        self.modules = []
        for info in [None] + list(pkgutil.walk_packages(autograder.__path__, "autograder.",
                                                         onerror=self.import_errors.append)):
            name = "autograder" if info is None else info.name
            try:
                module = importlib.import_module(name)
            except BaseException as e:  # noqa: BLE001
                self.import_errors.append(f"{name}: {type(e).__name__}: {e}")
                continue
            if only and not name.startswith(only):
                continue
            self.modules.append(name)
            self.walker.walk(module)
        self.calls = 0
        self.unbindable = 0
        self.leaks = []
        self.stubs: dict[int, StudentStub] = {}

    # -- the exercise's cases, rebuilt on this side ----------------------------------------

    def grader_cells(self):
        from autograder.exercises import lstm_interface
        ns = {}
        exec(lstm_interface.GRADER_CELLS, ns)
        return ns

    def revive(self, value, cells):
        if isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], str) \
                and value[0] == "__grader_cell__":
            return cells[value[1]](value[2])
        if isinstance(value, list):
            return [self.revive(v, cells) for v in value]
        if isinstance(value, tuple):
            return tuple(self.revive(v, cells) for v in value)
        if isinstance(value, dict):
            return {k: self.revive(v, cells) for k, v in value.items()}
        return value

    def ref_for(self, ex) -> StudentStub:
        ns = load_reference(self.spec["references"][ex["chapter"]])
        for name in ex["not_yet"]:
            ns[name] = _not_yet(name)
        stub = StudentStub(ns, self.errors)
        self.stubs[id(stub)] = stub   # shared, never copied
        return stub

    # -- calling -----------------------------------------------------------------------------

    def attempt(self, f, args, kwargs):
        """Call once (copies of the arguments, time-limited, quiet); the result or None."""
        try:
            inspect.signature(f).bind(*args, **kwargs)
        except TypeError:
            self.unbindable += 1
            return None
        except ValueError:   # no signature: just try
            pass
        args, kwargs = fresh(args), fresh(kwargs)
        self.calls += 1
        sink = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, SECONDS)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                return f(*args, **kwargs)
        except (Exception, Timeout, SystemExit, AssertionError):
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def conventions(self, f, ex, case, ref):
        """(name, args, kwargs) ways to call f on one case."""
        out = []
        for k, (args, kwargs) in enumerate(case["variants"]):
            out.append((f"args#{k}", args, {}))
            out.append((f"kwargs#{k}", (), kwargs))
        inputs = case["inputs"]
        out.append(("dict", (inputs,), {}))
        out.append(("ref,dict", (ref, inputs), {}))
        if case.get("cache") is not None:
            out.append(("cache,d", (case["cache"], *case["douts"]), {}))
        try:
            params = inspect.signature(f).parameters
        except (TypeError, ValueError):
            return out
        pool = {**inputs, **{k: v for _, kw in case["variants"] for k, v in kw.items()}}
        for alias in ("i", "inp", "inputs", "case", "arrays", "args"):
            pool.setdefault(alias, inputs)
        for alias in ("ref", "student", "reference", "who", "oracle"):
            pool.setdefault(alias, ref)
        if case.get("cache") is not None:
            pool.setdefault("cache", case["cache"])
        pool.setdefault("dims", case["dims"])
        pool.setdefault("d", case["dims"])
        pool.setdefault("seed", case["seed"])
        models = [m for m in ("rnn", "lstm", "gru") if ex["name"].startswith(m)] or ["rnn", "lstm", "gru"]
        for model in models:
            named = {}
            for p in params.values():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                if p.name in ("model", "kind"):
                    named[p.name] = model
                elif p.name in pool:
                    named[p.name] = pool[p.name]
                elif p.default is p.empty:
                    named = None
                    break
            if named:
                out.append((f"by name ({model})", (), named))
        return out

    def on_result(self, value):
        """What a call returns is walked too (a factory's lambdas, a class's instance)."""
        before = len(self.walker.callables)
        if isinstance(value, (types.FunctionType, types.MethodType, dict, list, tuple, type)) \
                or ours(type(value)):
            self.walker.walk(value)
        return len(self.walker.callables) > before

    def value_exercise(self, f, ex, refs):
        for k, case in enumerate(ex["cases"]):
            for conv, args, kwargs in self.conventions(f, ex, case, refs[k]):
                value = self.attempt(f, args, kwargs)
                if value is None:
                    continue
                self.on_result(value)
                if returns_expected(value, case["expected"]):
                    self.leaks.append({"callable": label(f), "exercise": f"{ex['number']} {ex['name']}",
                                       "how": conv, "case": k})
                    return

    def property_exercise(self, f, ex, spec_ex, ref_ns):
        """Does f pass the exercise's own property checks, in the student's place?"""
        ns = dict(ref_ns)
        ns[ex["name"]] = f
        student = StudentStub(ns, self.errors)
        self.calls += 1
        sink = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, 4 * SECONDS)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                results = spec_ex.checks_fn(spec_ex, student, 1000)
        except (Exception, Timeout, SystemExit):
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if results and all(r.passed for r in results):
            self.leaks.append({"callable": label(f), "exercise": f"{ex['number']} {ex['name']}",
                               "how": "passes its property checks", "case": None})

    def run(self):
        from autograder.exercises import CHAPTERS
        signal.signal(signal.SIGALRM, _alarm)
        cells = self.grader_cells()
        spec_of = {(c.__name__, e.number): e for c in CHAPTERS for e in c.EXERCISES}
        for ex in self.spec["exercises"]:
            ex["cases"] = self.revive(ex["cases"], cells)
        prepared = []
        for ex in self.spec["exercises"]:
            if ex["property"]:
                ns = self.ref_for(ex).namespace
                prepared.append((ex, ns))
            else:
                prepared.append((ex, [self.ref_for(ex) for _ in ex["cases"]]))
        position = 0
        while position < len(self.walker.callables):   # grows as results are walked
            f = self.walker.callables[position]
            position += 1
            for ex, extra in prepared:
                if ex["property"]:
                    self.property_exercise(f, ex, spec_of[(ex["chapter"], ex["number"])], extra)
                else:
                    self.value_exercise(f, ex, extra)
        return {
            "modules": self.modules, "import_errors": [str(e) for e in self.import_errors],
            "callables": len(self.walker.callables), "kinds": self.walker.kinds,
            "instances": sum(len(v) for v in self.walker.instances.values()),
            "exercises": len(self.spec["exercises"]),
            "cases": sum(len(e["cases"]) for e in self.spec["exercises"]),
            "calls": self.calls, "not bindable": self.unbindable, "leaks": self.leaks,
            "autograder": importlib.import_module("autograder").__file__,
        }


def main(argv):
    spec_path, out_path, *rest = argv
    only = rest[1] if rest[:1] == ["--only"] else None
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    report = Probe(spec, only).run()
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"{report['callables']} callables, {report['calls']} calls, {len(report['leaks'])} leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

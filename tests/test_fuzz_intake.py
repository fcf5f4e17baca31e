"""Fuzzing the intake: a few hundred malformed notebooks (fixed seed) through the same path
a class run takes (`grade._grade_one`: read, parse, grade, write the results). Every file
must get a result with a clear message, none an "internal grader error", within a time
bound. A larger run: FUZZ_N=1000 FUZZ_SEED=7 .venv/bin/python -m pytest tests/test_fuzz_intake.py
(measured: 1,000 files, all clear, in 321 s; README, "Bad input").

Kinds of damage: truncated and byte-flipped files, wrong JSON types at every level (the
document, `cells`, a cell, `source`, `cell_type`, `metadata`, `outputs`), lone surrogate
escapes ("\\udf91", valid JSON that no UTF-8 encoder accepts), NUL bytes (escaped and raw),
deep nesting (JSON and Python), huge strings and cell counts, and random code (random
tokens, random unicode, random bodies for the graded functions).
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from autograder.grade import _grade_one
from autograder.sandbox import Limits
from conftest import SOLUTION

SEED = int(os.environ.get("FUZZ_SEED", "12"))
N = int(os.environ.get("FUZZ_N", "300"))
SECONDS_PER_FILE = 0.75   # the bound: 300 files within 225 s (measured: see test output)
LIMITS = Limits(call_seconds=1.0, load_seconds=5.0, memory_bytes=1 << 30)

BASE = json.loads(SOLUTION.read_text())
BASE_TEXT = json.dumps(BASE)
CODE = [c for c in BASE["cells"] if c["cell_type"] == "code"]
WEIRD = [0, -1, 3.5, True, None, "", "x", [], {}, [1, [2]], {"a": {"b": None}}, ["a", 1, None]]
SURROGATES = ["\udf91", "\ud800", "\udfff", "\udc80", "\ud83d"]


def _random_text(rng: random.Random, n: int) -> str:
    pools = ["abc xyz_=()[]:+-*/\n\t ", "\u00e9\u4e2d\u0416\U0001F600\u200b\ufeff", "\x00\x01\x1b\x7f",
             "".join(SURROGATES)]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def _random_code(rng: random.Random) -> str:
    names = ["rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward"]
    bodies = ["return None", "return x", "return 1, 2", "raise ValueError('no')",
              "return np.zeros(3), None", "import os\n    return os.getcwd()",
              "return " + "+".join(["x"] * rng.randint(1, 500)),
              "while False: pass\n    return (x,)", "return [[[]]]", "return {'a': x}",
              "return np.full((2, 2), np.nan), ()", "return 'h', 'c'"]
    parts = [f"def {rng.choice(names)}(*args, **kw):\n    x = args[0] if args else 0\n    "
             f"{rng.choice(bodies)}" for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.3:
        parts.append(_random_text(rng, rng.randint(1, 200)))
    if rng.random() < 0.3:
        parts.append(" ".join(rng.choice(["def", "class", "(", ")", ":", "lambda", "yield", "import",
                                          "np", "=", "**", "\n", "    ", "'", '"', "#", "\\"])
                              for _ in range(rng.randint(1, 60))))
    return "\n\n".join(parts)


def _nb(cells, **top) -> dict:
    return {**{k: v for k, v in BASE.items() if k != "cells"}, "cells": cells, **top}


def _code_cell(source) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}


def make_case(rng: random.Random, i: int) -> tuple[str, bytes]:
    """(kind, file contents) of the i-th damaged notebook."""
    kind = rng.choice(["truncated", "byte_flipped", "wrong_type_top", "wrong_type_cells",
                       "wrong_type_cell", "wrong_type_field", "surrogate", "nul", "deep_json",
                       "deep_python", "huge_string", "many_cells", "random_code", "random_code",
                       "random_bytes"])
    raw = BASE_TEXT.encode()
    if kind == "truncated":
        return kind, raw[:rng.randrange(len(raw))]
    if kind == "byte_flipped":
        data = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return kind, bytes(data)
    if kind == "random_bytes":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))
    nb = json.loads(BASE_TEXT)
    if kind == "wrong_type_top":
        doc = rng.choice(WEIRD + [{"worksheets": []}, {"cells": rng.choice(WEIRD)}])
        return kind, json.dumps(doc).encode()
    if kind == "wrong_type_cells":
        nb["cells"] = rng.choice(WEIRD)
    elif kind == "wrong_type_cell":
        for _ in range(rng.randint(1, 5)):
            nb["cells"][rng.randrange(len(nb["cells"]))] = rng.choice(WEIRD)
    elif kind == "wrong_type_field":
        for _ in range(rng.randint(1, 6)):
            cell = rng.choice(nb["cells"])
            cell[rng.choice(["source", "cell_type", "metadata", "outputs", "execution_count", "id"])] = \
                rng.choice(WEIRD + [[1, "def f(): pass\n", None], ["a", ["b"]], {"source": "x"}])
        if rng.random() < 0.3:
            nb[rng.choice(["metadata", "nbformat", "nbformat_minor"])] = rng.choice(WEIRD)
    elif kind == "surrogate":
        for cell in rng.sample(nb["cells"], rng.randint(1, 4)):
            s = rng.choice(SURROGATES)
            where = rng.choice(["source", "cell_type", "metadata", "key"])
            if where == "source":
                src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                at = rng.randrange(len(src) + 1)
                cell["source"] = src[:at] + s + src[at:]
            elif where == "cell_type":
                cell["cell_type"] += s
            elif where == "metadata":
                cell["metadata"] = {s: s}
            else:
                cell[s] = s
        if rng.random() < 0.2:
            nb["cells"].append(_code_cell(f"def rnn_step_forward(x{rng.choice(SURROGATES)}): pass"))
    elif kind == "nul":
        if rng.random() < 0.5:
            for cell in rng.sample(CODE, 1):
                nb["cells"].append(_code_cell("".join(cell["source"]).replace("(", "(\x00", 1)))
            nb["cells"].append(_code_cell("x = 1\x00\ny = 2"))
        else:
            data = bytearray(raw)
            for _ in range(rng.randint(1, 10)):
                data.insert(rng.randrange(len(data)), 0)
            return kind, bytes(data)
    elif kind == "deep_json":
        depth = rng.choice([1000, 10_000, 100_000])
        inner = "[" * depth + "]" * depth
        where = rng.choice(["metadata", "source", "cells"])
        text = BASE_TEXT.replace('"metadata": {', f'"deep": {inner}, "metadata": {{', 1) \
            if where == "metadata" else json.dumps(_nb([{"cell_type": "code", "source": "@"}])).replace('"@"', inner) \
            if where == "source" else '{"cells": ' + inner + "}"
        return kind, text.encode()
    elif kind == "deep_python":
        depth = rng.choice([100, 1000, 10_000, 100_000, 200_000])
        src = rng.choice([
            "x = " + "(" * depth + "1" + ")" * depth,
            "x = " + "-" * depth + "1",
            "def rnn_step_forward(x):\n    return " + "+".join(["x"] * depth),
            "x = " + "+".join(["1"] * depth),
            "def f():\n" + "".join(" " * k + "if 1:\n" for k in range(1, min(depth, 300))) + " " * 300 + "pass\n",
            "x = " + "[" * min(depth, 5000) + "]" * min(depth, 5000),
        ])
        nb["cells"].append(_code_cell(src))
    elif kind == "huge_string":
        size = rng.choice([64 << 10, 256 << 10, 1 << 20, 1 << 20, 10 << 20 if rng.random() < 0.1 else 1 << 20])
        nb["cells"].append(_code_cell("BIG = '" + "a" * size + "'\n"))
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "b" * size})
    elif kind == "many_cells":
        count = rng.choice([500, 2_000, 5_000, 20_000 if rng.random() < 0.2 else 2_000])
        nb["cells"] += [_code_cell(f"v{k} = {k}\n") for k in range(count)]
        if rng.random() < 0.3:
            nb["cells"].append(_code_cell("\n".join(f"w{k} = {k}" for k in range(rng.choice([10_000, 50_000])))))
    elif kind == "random_code":
        for _ in range(rng.randint(1, 4)):
            nb["cells"].append(_code_cell(_random_code(rng)))
        if rng.random() < 0.3:
            nb["cells"] = [c for c in nb["cells"] if c["cell_type"] != "code"] + nb["cells"][-2:]
    return kind, json.dumps(nb).encode()   # ensure_ascii: surrogates travel as \\udXXX escapes


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    rng = random.Random(SEED)
    cases = []
    for i in range(N):
        kind, data = make_case(rng, i)
        path = folder / f"f{i:04d}_{kind}.ipynb"
        path.write_bytes(data)
        cases.append((kind, path))
    return folder, cases


def test_every_damaged_notebook_gets_a_clear_result(fuzzed, capfd):
    folder, cases = fuzzed
    out = folder / "out"
    started = time.monotonic()
    kinds: dict[str, int] = {}
    bad = []
    for kind, path in cases:
        result = _grade_one((path, path.stem, "01_rnn_review", LIMITS, None, out, "visible"))
        kinds[kind] = kinds.get(kind, 0) + 1
        data = json.loads((out / path.stem / "results.json").read_text())
        feedback = (out / path.stem / "feedback.md").read_text(encoding="utf-8")
        text = json.dumps(data)
        if "internal grader error" in text or "Traceback (most recent call last)" in data["output"]:
            bad.append((path.name, result["problem"][:300]))
        elif not data["tests"] and not data["output"].strip():
            bad.append((path.name, "no tests and no message"))
        elif not feedback.startswith("# Feedback"):
            bad.append((path.name, "no feedback page"))
    seconds = time.monotonic() - started
    printed = capfd.readouterr()
    print(f"fuzz: {len(cases)} notebooks (seed {SEED}) in {seconds:.1f} s; kinds: {kinds}")
    assert not bad, f"{len(bad)} of {len(cases)} files without a clear result: {bad[:5]}"
    assert "Traceback" not in printed.err, printed.err[-3000:]
    assert seconds < SECONDS_PER_FILE * len(cases), seconds
    assert len(kinds) >= 14   # every kind of damage was tried


def test_lone_surrogates_in_a_cell_are_graded():
    """The case that used to be an internal error (UnicodeEncodeError: surrogates not
    allowed): the notebook is graded, the rest of it counts."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        nb = json.loads(BASE_TEXT)
        nb["cells"].append(_code_cell("note = 'caf\udf91'\n"))
        for cell in nb["cells"]:   # in the cell that defines a graded function, too
            if "def rnn_step_forward" in "".join(cell["source"]):
                cell["source"] = "# caf\udf91\n" + "".join(cell["source"])
        path = Path(tmp) / "surrogate.ipynb"
        path.write_text(json.dumps(nb))
        assert "\\udf91" in path.read_text()
        result = _grade_one((path, "surrogate", "01_rnn_review", LIMITS, None, Path(tmp) / "out", "visible"))
        assert result["graded"] and result["score"] == 40, result

"""bench/rnn_torch_ratio.py runs (on a tiny size, --quick): one ratio row per model whose
reference functions exist, a "skipped: <why>" row for the others, the JSON table, exit 0,
and without torch a clear message instead of a crash. No timing is asserted."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from autograder.exercises import CHAPTERS
from autograder.reference import ReferenceMissing, reference
from conftest import ROOT

SCRIPT = ROOT / "bench" / "rnn_torch_ratio.py"
FUNCTIONS = {"RNN": ("rnn_forward", "rnn_backward"), "LSTM": ("lstm_forward", "lstm_backward"),
             "GRU": ("gru_forward", "gru_backward")}
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}


def defined() -> set[str]:
    """Every name the reference notebooks define (found here, not by the script)."""
    names = set()
    for chapter in CHAPTERS:
        try:
            names |= set(reference(chapter).namespace)
        except ReferenceMissing:
            pass
    return names


def run(*args, env=None, code=None):
    command = [sys.executable, str(SCRIPT), *args] if code is None else \
        [sys.executable, "-c", code, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def rows(stdout: str, model: str, variant: str) -> list[str]:
    return [line for line in stdout.splitlines()
            if re.match(rf"{model}\s+{re.escape(variant)}\s+T=", line)]


RATIO = re.compile(r"T=\d+ N=\d+ D=\d+ H=\d+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                   r"([\d.]+)\s+([\d.]+)\s+([\d.]+)")


@pytest.mark.torch
def test_quick_run_prints_a_row_per_model_and_writes_json(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is not installed: the comparison needs it")
    out = tmp_path / "table.json"
    done = run("--quick", "--json", str(out))
    assert done.returncode == 0, done.stderr
    names = defined()
    table = json.loads(out.read_text())
    assert table["machine"]["OPENBLAS_NUM_THREADS"] == "1"
    assert table["machine"]["torch_threads"] == 1
    for model, (fwd, bwd) in FUNCTIONS.items():
        [line] = rows(done.stdout, model, "reference")
        [entry] = [r for r in table["rows"] if r["model"] == model and r["variant"] == "reference"]
        if fwd in names and bwd in names:
            ratios = RATIO.search(line)
            assert ratios, line
            assert ratios.group(6) == f"{entry['ratio']:.2f}"  # the table prints the JSON's
            assert entry["numpy_ms"] > 0 and entry["torch_ms"] > 0
            assert entry["ratio"] == pytest.approx(entry["numpy_ms"] / entry["torch_ms"])
            assert entry["max_error"] <= 1e-10 and "skipped" not in entry
        else:
            missing = [f for f in (fwd, bwd) if f not in names]
            assert "skipped:" in line and missing[0] in line, line
            assert "ratio" not in entry and missing[0] in entry["skipped"]
        # the modified copies always run and must reproduce torch (checked inside the script)
        for variant in ("x@Wx hoisted", "+ batched grads"):
            [line] = rows(done.stdout, model, variant)
            assert RATIO.search(line) and "skipped" not in line, line


@pytest.mark.torch
def test_a_wrong_numpy_result_is_skipped_not_timed(tmp_path):
    """The agreement check is real: a forward off by 1e-9 gets a "skipped" row, no ratio."""
    pytest.importorskip("torch", reason="PyTorch is not installed: the comparison needs it")
    code = (
        "import runpy, sys; sys.argv[0] = %r; sys.path.insert(0, %r)\n"
        "import rnn_torch_ratio as b\n"
        "good = b.rnn_forward_hoisted\n"
        "def bad(*a):\n"
        "    h, cache = good(*a)\n"
        "    return h + 1e-9, cache\n"
        "b.VARIANTS['RNN'] = [('off by 1e-9', bad, b.rnn_backward_batched)]\n"
        "raise SystemExit(b.main(sys.argv[1:]))\n" % (str(SCRIPT), str(SCRIPT.parent)))
    done = run("--quick", "--models", "RNN", code=code, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    [line] = rows(done.stdout, "RNN", "off by 1e-9")
    assert "skipped: numpy and torch hidden states differ" in line and not RATIO.search(line)


@pytest.mark.torch
def test_a_missing_backward_is_a_skipped_row_that_names_it():
    """As while chapter 5 was being written: the forward is still timed, the backward row
    says which function is missing, and the stand-in backward gives a full ratio."""
    pytest.importorskip("torch", reason="PyTorch is not installed: the comparison needs it")
    code = (
        "import sys; sys.argv[0] = %r; sys.path.insert(0, %r)\n"
        "import rnn_torch_ratio as b\n"
        "real = b.reference_function\n"
        "def without(name):\n"
        "    if name == 'lstm_backward':\n"
        "        raise b.Skip('lstm_backward: solutions/05_x.ipynb is missing')\n"
        "    return real(name)\n"
        "b.reference_function = without\n"
        "raise SystemExit(b.main(sys.argv[1:]))\n" % (str(SCRIPT), str(SCRIPT.parent)))
    done = run("--quick", "--models", "LSTM", "--no-variants", code=code, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    [line] = rows(done.stdout, "LSTM", "reference")
    assert "skipped: backward: lstm_backward: solutions/05_x.ipynb is missing" in line
    assert re.search(r"H=\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+-", line), line  # forward timed
    [line] = rows(done.stdout, "LSTM", "ref fwd + stand-in bwd")
    assert RATIO.search(line) and "skipped" not in line, line


def test_without_torch_it_says_so_and_exits_0():
    # torch made unimportable; the thread variables already set, so the script does not
    # re-execute itself (which would drop the block)
    code = ("import sys, runpy; sys.modules['torch'] = None; sys.argv[0] = %r\n"
            "runpy.run_path(%r, run_name='__main__')\n" % (str(SCRIPT), str(SCRIPT)))
    done = run("--quick", code=code, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr
    assert "needs PyTorch" in done.stdout and "T=" not in done.stdout

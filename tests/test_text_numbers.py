"""Numbers the book's text quotes, recomputed from the code and data they describe.

A sentence such as "the RNN loses about 20 decades" is a claim about a figure drawn by a code
cell: when the code, the data or the reference changes, the sentence must change with it.
Each test reads the number from the markdown (so a hand edit is checked too) and recomputes
it from the solution notebook's own cells (run here, figures drawn off-screen), the stored
data, or the benchmark results.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import ROOT

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _cells(notebook: str) -> dict[str, str]:
    nb = json.loads((ROOT / "solutions" / notebook).read_text(encoding="utf-8"))
    return {c["id"]: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"]}


def _number(text: str, pattern: str) -> float:
    """The number captured by `pattern` (one group) in `text`, commas removed."""
    m = re.search(pattern, " ".join(text.split()))
    assert m, f"the text no longer says {pattern!r}: update this test with the text"
    return float(m.group(1).replace(",", ""))


def _run(notebook: str, *ids: str) -> dict:
    """Run these code cells of a solution notebook in one namespace; plt.show draws nothing."""
    cells, ns = _cells(notebook), {"np": np, "plt": plt}
    for cell_id in ids:
        exec(compile(cells[cell_id], f"{notebook}:{cell_id}", "exec"), ns)
    plt.close("all")
    return ns


def test_chapter1_jacobian_convention():
    """Is diag(1 - h^2) Wh^T the Jacobian with J[j, i] = dh_next_j / dh_i, as 1.7 says, and
    does a row gradient go back as g J?"""
    text = _cells("01_rnn_review.ipynb")["rnn-review-33"]
    assert "J_{t+1}[j, i] = \\partial h_{t+1, j} / \\partial h_{t, i}" in text
    rng = np.random.default_rng(0)
    H, D = 4, 3
    Wx, Wh, b, x, h = (rng.normal(size=s) for s in ((D, H), (H, H), (H,), (D,), (H,)))
    step = lambda h: np.tanh(x @ Wx + h @ Wh + b)  # noqa: E731
    eps = 1e-6
    numeric = np.stack([(step(h + eps * e) - step(h - eps * e)) / (2 * eps)
                        for e in np.eye(H)], axis=1)          # column i: d h_next / d h_i
    J = np.diag(1 - step(h) ** 2) @ Wh.T
    np.testing.assert_allclose(J, numeric, atol=1e-8)
    g_next = rng.normal(size=H)   # dL/dh_next for L = g_next . h_next
    g = np.array([(g_next @ step(h + eps * e) - g_next @ step(h - eps * e)) / (2 * eps)
                  for e in np.eye(H)])
    np.testing.assert_allclose(g_next @ J, g, atol=1e-8)


def test_chapter2_parameter_counts():
    """The worked example's counts and the ratio of doubling the units."""
    text = _cells("02_lstm_interface.ipynb")["lstm-interface-23"]
    count = lambda D, H, biases=1: 4 * (D * H + H * H + biases * H)  # noqa: E731
    assert _number(text, r"\| total \| \| ([\d,]+) \|") == count(32, 64)
    assert _number(text, r"turns 24,832 into ([\d,]+)") == count(32, 128)
    assert _number(text, r"128 units turns [\d,]+ into [\d,]+, ([\d.]+) times") == \
        round(count(32, 128) / count(32, 64), 1)
    assert _number(text, r"so D = 64 and it has ([\d,]+)") == count(64, 64)
    assert _number(text, r"reports ([\d,]+): it keeps two bias") == count(32, 64, biases=2)
    # "with H = D it is about 3"; "about 4 only when H >> D"
    assert round(count(256, 512) / count(256, 256)) == 3
    assert count(8, 2048) / count(8, 1024) > 3.9


def test_chapter4_counter_steps():
    """The counter's states after its two writes, and the steps between them."""
    text = _cells("04_gru.ipynb")["gru-21"]
    ns = _run("04_gru.ipynb", "gru-20")
    counter = ns["trace"]["h"][ns["units"].index("counter")]
    first, second = counter[ns["events"]["write"][0]], counter[ns["events"]["write"][1]]
    assert _number(text, r"from 0 to ([\d.]+) at the first write") == round(first, 2)
    assert _number(text, r"then by ([\d.]+) to [\d.]+ at the second") == round(second - first, 2)
    assert _number(text, r"then by [\d.]+ to ([\d.]+) at the second") == round(second, 2)
    assert _number(text, r"cleared\s+at step (\d+)") == ns["events"]["reset"][0]
    assert abs(counter[ns["events"]["reset"][0]]) < 0.01


def test_chapter4_timings_are_the_benchmarks():
    """The cost figure's times (code and text) are bench/results/rnn_torch_ratio.json's."""
    rows = json.loads((ROOT / "bench" / "results" / "rnn_torch_ratio.json").read_text())["rows"]
    ref = {r["model"]: r for r in rows if r["variant"] == "reference"
           and (r["T"], r["N"], r["D"], r["H"]) == (50, 32, 64, 128)}
    cells = _cells("04_gru.ipynb")
    ns = {}
    exec(re.search(r"^measured_ms = .*$", cells["gru-40"], re.M).group(0), ns)
    for model in ("LSTM", "GRU"):
        assert ns["measured_ms"][model] == round(ref[model]["numpy_forward_ms"], 1)
    text = cells["gru-39"]
    assert _number(text, r"([\d.]+) ms for the LSTM") == ns["measured_ms"]["LSTM"]
    assert _number(text, r"and ([\d.]+) ms for the GRU") == ns["measured_ms"]["GRU"]
    assert _number(text, r"PyTorch's took ([\d.]+) and") == round(ref["LSTM"]["torch_forward_ms"], 1)
    assert _number(text, r"PyTorch's took [\d.]+ and ([\d.]+) ms") == \
        round(ref["GRU"]["torch_forward_ms"], 1)
    ratio = _number(cells["gru-41"], r"GRU took about ([\d.]+) of the LSTM's time")
    assert ratio == round(ns["measured_ms"]["GRU"] / ns["measured_ms"]["LSTM"], 2)


@pytest.fixture(scope="module")
def gradient_flow():
    """Chapter 5's figures of section 5.4, computed by its own cells."""
    return _run("05_backprop_cell_state.ipynb", "backprop-17", "backprop-22")


def test_chapter5_decades(gradient_flow):
    """Decades lost from the last input to the first, the mean forget gate, and what the
    belt alone would predict, as section 5.4 says them."""
    ns, text = gradient_flow, _cells("05_backprop_cell_state.ipynb")["backprop-18"]
    lost = {name: values[-1] - values[0] for name, values in ns["curves"].items()}
    assert _number(text, r"the RNN loses about (\d+) decades") == round(lost["RNN"])
    assert _number(text, r"forget bias of 1 about (\d+)\.") == round(lost["LSTM, forget bias 1"])
    mean_f = ns["forget_means"][1.0]
    assert _number(text, r"average ([\d.]+) on these inputs") == round(mean_f, 2)
    assert _number(text, r"(\d+) factors of") == ns["T_FIG"] - 1
    assert _number(text, r"would cost about ([\d.]+) decades") == \
        round(-(ns["T_FIG"] - 1) * np.log10(round(mean_f, 2)), 1)
    # the explanation offered: the belt alone would lose more than what is measured
    assert -(ns["T_FIG"] - 1) * np.log10(mean_f) > lost["LSTM, forget bias 1"] + 3
    # the GRU sentences: a zero bias decays "almost as fast as the RNN", -1 "next to the LSTM"
    assert abs(lost["GRU, update bias 0"] - lost["RNN"]) < 3
    assert abs(lost["GRU, update bias -1"] - lost["LSTM, forget bias 1"]) < 2


def test_chapter6_first_symbol_rnn():
    """The plain RNN's accuracies on the first-symbol task, from the stored data."""
    data = next(p for p in (ROOT / "autograder" / "data" / "06_capstone_curves.json",
                            ROOT / "chapters" / "data" / "06_capstone_curves.json") if p.exists())
    first = json.loads(data.read_text())["first_symbol"]
    text = _cells("06_capstone.ipynb")["capstone-47"]
    assert _number(text, r"peaks at (\d+)%") == round(100 * max(first["rnn@0.5"]["accuracy"]))
    assert _number(text, r"at most (\d+)%\) with std 1") == \
        round(100 * max(first["rnn@1.0"]["accuracy"]))

"""Chapter 2's known mistakes (instructor only; see autograder/mistakes/__init__.py)."""
from __future__ import annotations

import numpy as np

from autograder.exercises.lstm_interface import _call_run_cell


def _count(D, H, gates=4, biases=1, recurrent=True):
    return {"count": gates * (D * H + (H * H if recurrent else 0) + biases * H)}


def _run_ref(ref, i, **change):
    return _call_run_cell(ref, {**i, **change})[0]


MISTAKES = {
    "lstm_param_count": {
        "one set of weights counted, not four (i, f, g, o each have their own)":
            lambda ref, i: _count(i["input_dim"], i["units"], gates=1),
        "the biases are left out": lambda ref, i: _count(i["input_dim"], i["units"], biases=0),
        "two biases per gate: that is PyTorch's count (bias_ih and bias_hh), not Keras's":
            lambda ref, i: _count(i["input_dim"], i["units"], biases=2),
        "the recurrent weights Wh (H x 4H) are left out":
            lambda ref, i: _count(i["input_dim"], i["units"], recurrent=False),
    },
    "run_cell": {
        "initial_state is ignored (the cell's get_initial_state is used instead)":
            lambda ref, i: _run_ref(ref, i, init=False),
        "return_sequences is ignored (only the last output is returned)":
            lambda ref, i: _run_ref(ref, i, return_sequences=False),
        "the loop starts from zeros instead of cell.get_initial_state(N)":
            lambda ref, i: _run_ref(ref, i, init=True, **{
                f"s{k}": np.zeros((i["x"].shape[0], i["W"].shape[1])) for k in range(2 - int(i["cell"]))}),
    },
}

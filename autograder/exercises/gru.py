"""Chapter 4, GRU: the original formulation, the reset-after form PyTorch, cuDNN and
Keras use, and PyTorch's weights. References: solutions/04_gru.ipynb.

Fused weights in PyTorch's order r, z, n (letter K = 3H). The book's z takes the new
candidate: h_next = (1 - z) * h_prev + z * n; PyTorch's z is 1 - ours. Ships in the
student package: the known mistakes are in autograder/mistakes/gru.py.
"""
from __future__ import annotations

from autograder.exercise import Arg, Exercise, fan_in

NOTEBOOK = "04_gru.ipynb"
TITLE = "GRU"

POINTS = {"values": 6, "edges": 2, "no_modify": 2}
ORDER = "rzn"


def dims(N, D, H, T=None):
    d = {"N": N, "D": D, "H": H, "K": 3 * H}
    return d if T is None else {**d, "T": T}


STEP_DIMS = (dims(3, 5, 4), dims(4, 2, 6), dims(2, 7, 3))
STEP_EDGES = (dims(1, 1, 1), dims(1, 4, 2), dims(3, 1, 1))
SEQ_DIMS = (dims(3, 5, 4, T=4), dims(2, 3, 5, T=6), dims(4, 2, 3, T=3))
SEQ_EDGES = (dims(1, 1, 1, T=1), dims(2, 3, 4, T=1), dims(1, 2, 1, T=5))


STEP_ARGS = (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg("Wx", "DK", fan_in("D")),
             Arg("Wh", "HK", fan_in("H")), Arg("b", "K", lambda d: 0.5))
SEQ_ARGS = (Arg("x", "NTD"), Arg("h0", "NH", lambda d: 0.5), Arg("Wx", "DK", fan_in("D")),
            Arg("Wh", "HK", fan_in("H")), Arg("b", "K", lambda d: 0.5))

gru_step_forward = Exercise(
    name="gru_step_forward", number="4.1", args=STEP_ARGS, returns=("h_next", "cache"),
    axes={"h_next": "NH"}, points=POINTS, hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES,
    public_dims=(STEP_DIMS[0], STEP_EDGES[0]))


gru_forward = Exercise(
    name="gru_forward", number="4.2", args=SEQ_ARGS, returns=("h", "cache"), axes={"h": "NTH"},
    points=POINTS, hidden_dims=SEQ_DIMS, edge_dims=SEQ_EDGES, public_dims=(SEQ_DIMS[0], SEQ_EDGES[0]),
    needs=("gru_step_forward",))

AFTER_ARGS = (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg("Wx", "DK", fan_in("D")),
              Arg("Wh", "HK", fan_in("H")), Arg("bx", "K", lambda d: 0.5), Arg("bh", "K", lambda d: 0.5))

gru_step_forward_reset_after = Exercise(
    name="gru_step_forward_reset_after", number="4.3", args=AFTER_ARGS, returns=("h_next", "cache"),
    axes={"h_next": "NH"}, points=POINTS, hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES,
    public_dims=(STEP_DIMS[0], STEP_EDGES[0]))


TORCH_ARGS = (Arg("weight_ih", "KD", fan_in("D")), Arg("weight_hh", "KH", fan_in("H")),
              Arg("bias_ih", "K"), Arg("bias_hh", "K"))

gru_weights_from_torch = Exercise(
    name="gru_weights_from_torch", number="4.4", args=TORCH_ARGS, returns=("Wx", "Wh", "bx", "bh"),
    axes={"Wx": "DK", "Wh": "HK", "bx": "K", "bh": "K"}, points=POINTS, hidden_dims=STEP_DIMS,
    edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]), no_share=True)

EXERCISES = (gru_step_forward, gru_forward, gru_step_forward_reset_after, gru_weights_from_torch)

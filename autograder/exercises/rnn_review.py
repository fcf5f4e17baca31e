"""Chapter 1, RNN review: the four exercises and how they are tested.

The reference implementations live in solutions/01_rnn_review.ipynb (never here). This
file says only how to call them: argument shapes, what is compared, the points of each
check, the shapes of the hidden and public cases. It ships in the student package, so it
holds no code that computes an answer: the known-wrong versions that name a likely bug
("looks like: the bias b is missing") are in autograder/mistakes/rnn_review.py.
"""
from __future__ import annotations

from autograder.exercise import Arg, Exercise, fan_in

NOTEBOOK = "01_rnn_review.ipynb"
TITLE = "RNN review"

FORWARD_POINTS = {"values": 6, "edges": 2, "no_modify": 2}
BACKWARD_POINTS = {"values": 4, "edges": 2, "gradcheck": 2, "no_modify": 2}

STEP_ARGS = (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg("Wx", "DH", fan_in("D")),
             Arg("Wh", "HH", fan_in("H")), Arg("b", "H", lambda d: 0.1))
SEQ_ARGS = (Arg("x", "NTD"), Arg("h0", "NH", lambda d: 0.5), Arg("Wx", "DH", fan_in("D")),
            Arg("Wh", "HH", fan_in("H")), Arg("b", "H", lambda d: 0.1))

STEP_DIMS = ({"N": 3, "D": 5, "H": 4}, {"N": 4, "D": 2, "H": 6}, {"N": 2, "D": 7, "H": 3})
STEP_EDGES = ({"N": 1, "D": 1, "H": 1}, {"N": 1, "D": 4, "H": 1}, {"N": 3, "D": 1, "H": 2})
SEQ_DIMS = ({"N": 3, "T": 4, "D": 5, "H": 4}, {"N": 2, "T": 7, "D": 3, "H": 5},
            {"N": 4, "T": 3, "D": 2, "H": 6})
SEQ_EDGES = ({"N": 1, "T": 1, "D": 1, "H": 1}, {"N": 2, "T": 1, "D": 3, "H": 4},
             {"N": 1, "T": 5, "D": 2, "H": 1})


# -- the exercises, in the notebook's order --------------------------------------------

rnn_step_forward = Exercise(
    name="rnn_step_forward", number="1.1", args=STEP_ARGS, returns=("h_next", "cache"),
    axes={"h_next": "NH"}, points=FORWARD_POINTS,
    hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]))

rnn_forward = Exercise(
    name="rnn_forward", number="1.2", args=SEQ_ARGS, returns=("h", "cache"),
    axes={"h": "NTH"}, points=FORWARD_POINTS,
    hidden_dims=SEQ_DIMS, edge_dims=SEQ_EDGES, public_dims=(SEQ_DIMS[0], SEQ_EDGES[0]))

rnn_step_backward = Exercise(
    name="rnn_step_backward", number="1.3", args=(), returns=("dx", "dh_prev", "dWx", "dWh", "db"),
    axes={"dx": "ND", "dh_prev": "NH", "dWx": "DH", "dWh": "HH", "db": "H"},
    points=BACKWARD_POINTS, forward=rnn_step_forward, douts=(Arg("dh_next", "NH"),),
    dout_of={"h_next": "dh_next"},
    grad_of={"dx": "x", "dh_prev": "h_prev", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]),
    grad_dims={"N": 2, "D": 3, "H": 4})

rnn_backward = Exercise(
    name="rnn_backward", number="1.4", args=(), returns=("dx", "dh0", "dWx", "dWh", "db"),
    axes={"dx": "NTD", "dh0": "NH", "dWx": "DH", "dWh": "HH", "db": "H"},
    points=BACKWARD_POINTS, forward=rnn_forward, douts=(Arg("dh", "NTH"),),
    dout_of={"h": "dh"},
    grad_of={"dx": "x", "dh0": "h0", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=SEQ_DIMS, edge_dims=SEQ_EDGES, public_dims=(SEQ_DIMS[0], SEQ_EDGES[0]),
    grad_dims={"N": 2, "T": 3, "D": 3, "H": 4},
    needs=("rnn_step_forward", "rnn_step_backward"))

EXERCISES = (rnn_step_forward, rnn_forward, rnn_step_backward, rnn_backward)

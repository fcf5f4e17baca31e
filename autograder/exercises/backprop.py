"""Chapter 5, backprop through the cell state: the LSTM and GRU backward passes, one step
and through time. References: solutions/05_backprop_cell_state.ipynb (the forwards are
carried there from chapters 3 and 4).

Every exercise here is a backward pass, graded with the cache of the student's own forward
and checked against finite differences of it at grading time. The mistake catalogue names
the classic slips (the cell gradient from the next step not added, tanh'(c) missing on the
way from h to c, ...); it is instructor-only, in autograder/mistakes/backprop.py, since
this file ships in the student package.
"""
from __future__ import annotations

from autograder.exercise import Arg, Exercise
from autograder.exercises import gates, gru

NOTEBOOK = "05_backprop_cell_state.ipynb"
TITLE = "Backprop through the cell state"

POINTS = {"values": 4, "edges": 2, "gradcheck": 2, "no_modify": 2}


# -- LSTM ------------------------------------------------------------------------------------

LSTM_STEP_GRADS = {"dx": "ND", "dh_prev": "NH", "dc_prev": "NH", "dWx": "DG", "dWh": "HG", "db": "G"}
LSTM_SEQ_GRADS = {"dx": "NTD", "dh0": "NH", "dc0": "NH", "dWx": "DG", "dWh": "HG", "db": "G"}


lstm_step_backward = Exercise(
    name="lstm_step_backward", number="5.1", args=(), returns=tuple(LSTM_STEP_GRADS),
    axes=LSTM_STEP_GRADS, points=POINTS, forward=gates.lstm_step_forward,
    douts=(Arg("dh_next", "NH"), Arg("dc_next", "NH")),
    dout_of={"h_next": "dh_next", "c_next": "dc_next"},
    grad_of={"dx": "x", "dh_prev": "h_prev", "dc_prev": "c_prev", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=gates.STEP_DIMS, edge_dims=gates.STEP_EDGES,
    public_dims=(gates.STEP_DIMS[0], gates.STEP_EDGES[0]),
    grad_dims=gates.dims(2, 3, 2), needs=("lstm_step_forward",))

lstm_backward = Exercise(
    name="lstm_backward", number="5.2", args=(), returns=tuple(LSTM_SEQ_GRADS),
    axes=LSTM_SEQ_GRADS, points=POINTS, forward=gates.lstm_forward, douts=(Arg("dh", "NTH"),),
    dout_of={"h": "dh"},
    grad_of={"dx": "x", "dh0": "h0", "dc0": "c0", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=gates.SEQ_DIMS, edge_dims=gates.SEQ_EDGES,
    public_dims=(gates.SEQ_DIMS[0], gates.SEQ_EDGES[0]),
    grad_dims=gates.dims(2, 2, 2, T=3),
    needs=("lstm_step_forward", "lstm_forward", "lstm_step_backward"))


# -- GRU --------------------------------------------------------------------------------------

GRU_STEP_GRADS = {"dx": "ND", "dh_prev": "NH", "dWx": "DK", "dWh": "HK", "db": "K"}
GRU_SEQ_GRADS = {"dx": "NTD", "dh0": "NH", "dWx": "DK", "dWh": "HK", "db": "K"}


gru_step_backward = Exercise(
    name="gru_step_backward", number="5.3", args=(), returns=tuple(GRU_STEP_GRADS),
    axes=GRU_STEP_GRADS, points=POINTS, forward=gru.gru_step_forward,
    douts=(Arg("dh_next", "NH"),), dout_of={"h_next": "dh_next"},
    grad_of={"dx": "x", "dh_prev": "h_prev", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=gru.STEP_DIMS, edge_dims=gru.STEP_EDGES,
    public_dims=(gru.STEP_DIMS[0], gru.STEP_EDGES[0]),
    grad_dims=gru.dims(2, 3, 2), needs=("gru_step_forward",))

gru_backward = Exercise(
    name="gru_backward", number="5.4", args=(), returns=tuple(GRU_SEQ_GRADS),
    axes=GRU_SEQ_GRADS, points=POINTS, forward=gru.gru_forward, douts=(Arg("dh", "NTH"),),
    dout_of={"h": "dh"}, grad_of={"dx": "x", "dh0": "h0", "dWx": "Wx", "dWh": "Wh", "db": "b"},
    hidden_dims=gru.SEQ_DIMS, edge_dims=gru.SEQ_EDGES,
    public_dims=(gru.SEQ_DIMS[0], gru.SEQ_EDGES[0]),
    grad_dims=gru.dims(2, 2, 2, T=3),
    needs=("gru_step_forward", "gru_forward", "gru_step_backward"))

EXERCISES = (lstm_step_backward, lstm_backward, gru_step_backward, gru_backward)

"""Write autograder/data/06_capstone_curves.json: the training runs chapter 6 shows.

    PYTHONPATH=$PWD .venv/bin/python scripts/capstone_data.py          # all runs, a few minutes
    PYTHONPATH=$PWD .venv/bin/python scripts/capstone_data.py --check  # is the file up to date?

The book is built by executing chapters/06_capstone.ipynb, where the exercises are stubs, and
every notebook must run in seconds, so the learning curves are computed here, once, with the
REFERENCE functions of solutions/06_capstone.ipynb (its `train`, `init_params` and
`*_loss_and_grads`), and committed. The file records the configuration and the losses of the
first 20 steps of every run; tests/test_capstone.py re-runs 20 steps of one run and fails
when the file no longer matches the reference (`--check` does the same here).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.exercises import capstone  # noqa: E402
from autograder.reference import reference  # noqa: E402

TARGET = ROOT / "autograder" / "data" / "06_capstone_curves.json"   # package data: travels with it
CONFIG = {"task": "adding", "T": 30, "H": 64, "batch": 32, "lr": 3e-3, "clip": 1.0, "steps": 3000,
          "every": 50, "tol": 0.04, "test_size": 1000, "seed": 0, "test_seed": 1234,
          "dtype": "float64"}
# name -> (kind, gate_bias, clip); the clip of None trains without clipping
RUNS = {"rnn": ("rnn", 0.0, 1.0), "lstm": ("lstm", 1.0, 1.0), "gru": ("gru", 0.0, 1.0),
        "rnn_noclip": ("rnn", 0.0, None), "lstm_noclip": ("lstm", 1.0, None),
        "gru_noclip": ("gru", 0.0, None), "lstm_forget0": ("lstm", 0.0, 1.0),
        "gru_update-1": ("gru", -1.0, 1.0), "rnn_long": ("rnn", 0.0, 1.0)}
LONGER = {"rnn_long": 8000}   # runs with more steps than CONFIG["steps"]
STALE_RUN, STALE_STEPS, STALE_RTOL = "lstm", 20, 1e-6
FIRST = {"task": "first symbol", "T": 30, "H": 64, "symbols": 4, "batch": 32, "lr": 3e-3,
         "clip": 1.0, "steps": 1000, "every": 25, "test_size": 500, "seed": 0, "test_seed": 99,
         "input_std": [0.25, 0.5, 1.0]}
# init_params draws Wx with std 1/sqrt(D) = 0.5 for D = 4 symbols; each run is repeated with
# Wx rescaled to every std of FIRST["input_std"]
FIRST_RUNS = {"rnn": ("rnn", 0.0), "lstm_forget1": ("lstm", 1.0), "lstm_forget0": ("lstm", 0.0),
              "gru_update-1": ("gru", -1.0), "gru_update0": ("gru", 0.0)}


def _ns():
    ref = reference(capstone)
    return ref.namespace


def adding_run(ns, name, steps=None):
    """Train one configuration; return its history (and steps to 95%, seconds)."""
    kind, gate_bias, clip = RUNS[name]
    c = CONFIG
    steps = steps or LONGER.get(name, c["steps"])
    rng = np.random.default_rng(c["seed"])
    x_test, y_test = ns["adding_problem"](c["test_size"], c["T"], np.random.default_rng(c["test_seed"]))
    params = ns["init_params"](kind, 2, c["H"], rng, gate_bias=gate_bias)
    start = time.perf_counter()
    history = ns["train"](kind, ns[f"{kind}_loss_and_grads"], params, steps, rng,
                          x_test, y_test, batch=c["batch"], lr=c["lr"], clip=clip,
                          every=c["every"], tol=c["tol"])
    seconds = time.perf_counter() - start
    hit = next((s for s, a in zip(history["step"], history["accuracy"]) if a >= 0.95), None)
    return {"kind": kind, "gate_bias": gate_bias, "clip": clip, "steps_to_95": hit,
            "seconds": round(seconds, 1),
            "seconds_to_95": None if hit is None else round(seconds * hit / steps, 1),
            **history}


def first_symbol(N, T, symbols, rng):
    """Sequences of random symbols, one-hot (N, T, symbols); the label is the first one."""
    s = rng.integers(0, symbols, size=(N, T))
    return np.eye(symbols)[s], s[:, 0]


def first_run(ns, name, input_std):
    """The first-symbol task with a softmax head on the last state, the reference's layers;
    Wx rescaled so that its entries have the standard deviation input_std."""
    kind, gate_bias = FIRST_RUNS[name]
    c = FIRST
    rng = np.random.default_rng(c["seed"])
    x_test, label_test = first_symbol(c["test_size"], c["T"], c["symbols"],
                                      np.random.default_rng(c["test_seed"]))
    params = ns["init_params"](kind, c["symbols"], c["H"], rng, gate_bias=gate_bias)
    params["Wx"] *= input_std * np.sqrt(c["symbols"])   # init_params' std is 1/sqrt(D)
    params["W_out"] = rng.standard_normal((c["H"], c["symbols"])) / np.sqrt(c["H"])
    params["b_out"] = np.zeros(c["symbols"])
    fwd, bwd = capstone.CORE[kind]
    opt = ns["Adam"](params, lr=c["lr"])
    accuracy, steps_seen, hit = [], [], None
    start = time.perf_counter()
    for step in range(1, c["steps"] + 1):
        x, label = first_symbol(c["batch"], c["T"], c["symbols"], rng)
        N = x.shape[0]
        zero = np.zeros((N, c["H"]))
        out = ns[fwd](*((x, zero, zero) if kind == "lstm" else (x, zero)),
                      params["Wx"], params["Wh"], params["b"])
        h, cache = out[0], out[-1]
        scores = h[:, -1] @ params["W_out"] + params["b_out"]          # (N, symbols)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dscores = p.copy()
        dscores[np.arange(N), label] -= 1.0
        dscores /= N
        dh = np.zeros_like(h)
        dh[:, -1] = dscores @ params["W_out"].T
        back = ns[bwd](dh, cache)
        grads = {"Wx": back[-3], "Wh": back[-2], "b": back[-1],
                 "W_out": h[:, -1].T @ dscores, "b_out": dscores.sum(axis=0)}
        grads, _ = ns["clip_by_global_norm"](grads, c["clip"])
        opt.step(grads)
        if step % c["every"] == 0:
            zt = np.zeros((len(x_test), c["H"]))
            ht = ns[fwd](*((x_test, zt, zt) if kind == "lstm" else (x_test, zt)),
                         params["Wx"], params["Wh"], params["b"])[0]
            acc = float(np.mean(np.argmax(ht[:, -1] @ params["W_out"] + params["b_out"], 1) == label_test))
            accuracy.append(acc)
            steps_seen.append(step)
            if acc >= 0.95:
                hit = step
                break
    return {"kind": kind, "gate_bias": gate_bias, "input_std": input_std, "steps_to_95": hit,
            "seconds": round(time.perf_counter() - start, 1), "step": steps_seen,
            "accuracy": accuracy}


def _rounded(history):
    return {k: ([round(v, 6) for v in vals] if k in ("loss", "grad_norm", "test_mse", "accuracy")
                else vals) for k, vals in history.items()}


def compute(only=None) -> dict:
    ns = _ns()
    data = {"command": "PYTHONPATH=$PWD .venv/bin/python scripts/capstone_data.py",
            "config": CONFIG, "runs": {}, "first_symbol_config": FIRST, "first_symbol": {},
            "stale_check": {"run": STALE_RUN, "steps": STALE_STEPS, "rtol": STALE_RTOL}}
    for name in RUNS:
        if only and name not in only:
            continue
        run = adding_run(ns, name)
        print(f"{name:14s} steps to 95%: {run['steps_to_95']}, {run['seconds']} s "
              f"(to 95%: {run['seconds_to_95']} s), final accuracy {run['accuracy'][-1]:.3f}",
              flush=True)
        data["runs"][name] = {**_rounded(run), "first_losses": run["first_losses"]}
    for name in FIRST_RUNS:
        if only and name not in only:
            continue
        for std in FIRST["input_std"]:
            run = first_run(ns, name, std)
            print(f"first symbol {name:14s} Wx std {std}: steps to 95%: {run['steps_to_95']}, "
                  f"{run['seconds']} s, last accuracy {run['accuracy'][-1]:.3f}", flush=True)
            data["first_symbol"][f"{name}@{std}"] = run
    return data


def stale(data: dict) -> list[str]:
    """Problems that show the file no longer matches the reference (cheap: 20 steps)."""
    problems = []
    if data.get("config") != CONFIG:
        problems.append(f"the recorded config {data.get('config')} is not the script's {CONFIG}")
    if set(data.get("runs", {})) != set(RUNS):
        problems.append(f"the runs recorded are {sorted(data.get('runs', {}))}, not {sorted(RUNS)}")
        return problems
    for name, (kind, gate_bias, clip) in RUNS.items():
        run = data["runs"][name]
        if (run["kind"], run["gate_bias"], run["clip"]) != (kind, gate_bias, clip):
            problems.append(f"run {name} records {run['kind']}, {run['gate_bias']}, {run['clip']}")
    fresh = adding_run(_ns(), STALE_RUN, steps=STALE_STEPS)["first_losses"]
    recorded = data["runs"][STALE_RUN]["first_losses"][:STALE_STEPS]
    if len(recorded) != STALE_STEPS or not np.allclose(fresh, recorded, rtol=STALE_RTOL, atol=0):
        problems.append(f"the first {STALE_STEPS} losses of run {STALE_RUN} differ from the "
                        f"reference's: recorded {recorded[:3]}..., now {fresh[:3]}...")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    parser.add_argument("--only", nargs="*", help="compute only these runs (for a try; not written)")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(json.loads(TARGET.read_text()))
        print("\n".join(problems) or f"{TARGET.relative_to(ROOT)} is up to date")
        return 1 if problems else 0
    data = compute(args.only)
    if args.only:
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

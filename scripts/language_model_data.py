"""Write chapter 7's data: the text snapshot and the long training run.

    PYTHONPATH=$PWD .venv/bin/python scripts/language_model_data.py --text   # new snapshot
    PYTHONPATH=$PWD .venv/bin/python scripts/language_model_data.py          # the run, 5-30 min
    PYTHONPATH=$PWD .venv/bin/python scripts/language_model_data.py --check  # up to date?

The text: docstrings of a fixed list of standard-library modules, read from the interpreter
that runs this script (CPython, Python Software Foundation License), cleaned (inspect.cleandoc,
printable ASCII and newlines only, duplicates and docstrings under 40 characters dropped) and
split: every tenth docstring is held out. Both parts are stored, with the module list, the
Python version and the licence, in autograder/data/07_docstrings.json (package data: the
notebook finds it with autograder.data_path wherever it is opened). Docstrings change a little
between Python versions, so this is a stored snapshot: the book reads it, never the
interpreter, and `--text` is only run to make a new snapshot on purpose.

The run: chapters/07_language_model.ipynb executes with stubs and must take seconds, so the
long training is done here with the REFERENCE functions of solutions/07_language_model.ipynb
(its `init_lm`, `train_lm`, `sample`, baselines) and stored in autograder/data/
07_language_model_runs.json, with the configuration, the SHA-256 of the text snapshot and the
losses of the first 20 steps.
`--check` (and tests/test_language_model.py) re-runs those 20 steps and compares.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.exercises import language_model  # noqa: E402
from autograder.reference import reference  # noqa: E402

DATA = ROOT / "autograder" / "data"
TEXT = DATA / "07_docstrings.json"
TARGET = DATA / "07_language_model_runs.json"
LICENCE = ("Python Software Foundation License Version 2 (the docstrings are part of CPython); "
           "https://docs.python.org/3/license.html")

MODULES = ("abc", "argparse", "ast", "base64", "bisect", "calendar", "collections", "contextlib",
           "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "enum", "fractions",
           "functools", "glob", "gzip", "heapq", "hmac", "html", "inspect", "io", "ipaddress",
           "itertools", "json", "logging", "math", "operator", "os", "pathlib", "pickle",
           "pprint", "queue", "random", "re", "shlex", "shutil", "socket", "statistics",
           "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
           "time", "timeit", "tokenize", "traceback", "types", "typing", "unittest",
           "urllib.parse", "uuid", "warnings", "weakref", "zipfile")
HELDOUT_EVERY = 10

CONFIG = {"H": 128, "N": 32, "T": 50, "lr": 1e-2, "max_norm": 5.0, "steps": 4000, "every": 250,
          "seed": 0, "heldout_chars": 20000, "dtype": "float64"}
SAMPLE_AT = (250, 1000, 4000)
SAMPLE = {"chars": 300, "start": "R", "temperature": 0.7, "seed": 7}
FINAL_TEMPERATURES = (0.4, 1.0)
TABLE_STEPS = (500, 1500, 4000)
STALE_STEPS, STALE_RTOL = 20, 1e-6


# -- the text ---------------------------------------------------------------------------------

def docstrings() -> list[str]:
    """The cleaned docstrings of MODULES, in a fixed order, without duplicates."""
    seen, out = set(), []

    def add(doc):
        if not isinstance(doc, str):
            return
        doc = inspect.cleandoc(doc)
        doc = "".join(ch for ch in doc if ch == "\n" or 32 <= ord(ch) < 127)
        if len(doc) >= 40 and doc not in seen:
            seen.add(doc)
            out.append(doc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in MODULES:
            module = importlib.import_module(name)
            add(module.__doc__)
            for attr in sorted(vars(module)):
                obj = getattr(module, attr)
                if attr.startswith("_") or getattr(obj, "__module__", None) not in (name, None):
                    continue
                if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                    add(obj.__doc__)
                if inspect.isclass(obj):
                    for member_name, member in sorted(vars(obj).items()):
                        if not member_name.startswith("_") and callable(member):
                            add(member.__doc__)
    return out


def write_text() -> None:
    docs = docstrings()
    held = [d for k, d in enumerate(docs) if k % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    train = [d for k, d in enumerate(docs) if k % HELDOUT_EVERY != HELDOUT_EVERY - 1]
    snapshot = {"source": "docstrings of the Python standard library, read from the interpreter "
                          "by scripts/language_model_data.py --text",
                "licence": LICENCE, "python": platform.python_version(), "modules": list(MODULES),
                "heldout_every": HELDOUT_EVERY,
                "train": "\n\n".join(train) + "\n", "heldout": "\n\n".join(held) + "\n"}
    TEXT.write_text(json.dumps(snapshot, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {len(train)} + {len(held)} docstrings from Python {platform.python_version()} "
          f"to {TEXT.relative_to(ROOT)} ({TEXT.stat().st_size:,} bytes)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the run ----------------------------------------------------------------------------------

def _ns():
    return reference(language_model).namespace


def _ids():
    text = json.loads(TEXT.read_text(encoding="utf-8"))
    train_text, heldout_text = text["train"], text["heldout"]
    chars = sorted(set(train_text) | set(heldout_text))
    index = {ch: k for k, ch in enumerate(chars)}
    return (chars, np.array([index[c] for c in train_text]),
            np.array([index[c] for c in heldout_text]))


def training(ns, steps, on_eval=None, heldout=None):
    chars, train_ids, heldout_ids = _ids()
    c = CONFIG
    params = ns["init_lm"](len(chars), c["H"], np.random.default_rng(c["seed"]))
    return ns["train_lm"](params, train_ids, steps, N=c["N"], T=c["T"], lr=c["lr"],
                          max_norm=c["max_norm"], every=c["every"], heldout=heldout,
                          on_eval=on_eval)


def compute() -> dict:
    ns = _ns()
    chars, train_ids, heldout_ids = _ids()
    V = len(chars)
    c = CONFIG
    samples = []

    def draw(params, temperature, seed):
        H = params["Wh"].shape[0]
        zero = np.zeros((1, H))
        ids = ns["sample"](params, zero, zero, np.array([chars.index(SAMPLE["start"])]),
                           SAMPLE["chars"], temperature, np.random.default_rng(seed))[0]
        return SAMPLE["start"] + "".join(chars[k] for k in ids)

    def on_eval(step, params):
        print(f"step {step}: {time.perf_counter() - start:.0f} s", flush=True)
        if step in SAMPLE_AT:
            samples.append({"step": step, "temperature": SAMPLE["temperature"],
                            "text": draw(params, SAMPLE["temperature"], SAMPLE["seed"])})
        if step == c["steps"]:
            for tau in FINAL_TEMPERATURES:
                samples.append({"step": step, "temperature": tau,
                                "text": draw(params, tau, SAMPLE["seed"])})

    start = time.perf_counter()
    history = training(ns, c["steps"], on_eval, heldout_ids[:c["heldout_chars"]])
    seconds = time.perf_counter() - start
    baselines = {"uniform": float(np.log2(V)),
                 "unigram": ns["unigram_bpc"](train_ids, heldout_ids[:c["heldout_chars"]], V),
                 "bigram": ns["bigram_bpc"](train_ids, heldout_ids[:c["heldout_chars"]], V)}
    rounded = {k: ([round(x, 5) for x in v] if k in ("train_bpc", "heldout_bpc", "grad_norm") else v)
               for k, v in history.items()}
    return {"command": "PYTHONPATH=$PWD .venv/bin/python scripts/language_model_data.py",
            "python": platform.python_version(), "numpy": np.__version__,
            "text_sha256": sha256(TEXT),
            "V": V, "config": CONFIG, "seconds": round(seconds), "baselines": baselines,
            "table_steps": list(TABLE_STEPS), "history": rounded, "samples": samples,
            "stale_check": {"steps": STALE_STEPS, "rtol": STALE_RTOL}}


def stale(data: dict) -> list[str]:
    """Problems that show the stored run no longer matches the text or the reference."""
    problems = []
    if data.get("config") != CONFIG:
        problems.append(f"the recorded config {data.get('config')} is not the script's {CONFIG}")
    if data.get("text_sha256") != sha256(TEXT):
        problems.append("the text snapshot changed since the run was computed: run the script again")
    fresh = training(_ns(), STALE_STEPS)["first_losses"]
    recorded = data.get("history", {}).get("first_losses", [])[:STALE_STEPS]
    if len(recorded) != STALE_STEPS or not np.allclose(fresh, recorded, rtol=STALE_RTOL, atol=0):
        problems.append(f"the first {STALE_STEPS} losses differ from the reference's: recorded "
                        f"{recorded[:3]}..., now {fresh[:3]}...")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="only check that the run is up to date")
    mode.add_argument("--text", action="store_true",
                      help="write a new text snapshot from this interpreter (then rerun the run)")
    args = parser.parse_args(argv)
    if args.text:
        write_text()
        return 0
    if args.check:
        problems = stale(json.loads(TARGET.read_text()))
        print("\n".join(problems) or f"{TARGET.relative_to(ROOT)} is up to date")
        return 1 if problems else 0
    data = compute()
    TARGET.write_text(json.dumps(data, indent=0) + "\n")
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size // 1024} KB), "
          f"{data['seconds']} s of training")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""LSTMs from the cell up: self-checks for the notebooks, and the autograder.

In a notebook: `from autograder import check`, then `check(rnn_forward)`; the data a chapter
plots: `data_path("06_capstone_curves.json")` (shipped with the package, so a notebook opened
anywhere finds it).
From a shell: `python -m autograder release | grade | fixtures` (see README.md).
"""


def check(fn, *helpers):
    """Self-check an exercise function; see autograder.selfcheck.check."""
    __tracebackhide__ = True  # noqa: F841
    from autograder.selfcheck import check as _check
    return _check(fn, *helpers)


def data_path(name: str):
    """The path of one of the course's data files (autograder/data/), e.g. the training
    curves chapter 6 plots. It travels with the package, so a notebook finds it wherever it
    was opened or downloaded to."""
    from pathlib import Path
    folder = Path(__file__).resolve().parent / "data"
    path = folder / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in folder.glob("*") if p.is_file())) or "none"
        raise FileNotFoundError(f"{name} is not one of the course's data files ({known}): "
                                "is the course package (autograder) installed in full?")
    return path

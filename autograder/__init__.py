"""LSTMs from the cell up: self-checks for the notebooks, and the autograder.

In a notebook: `from autograder import check`, then `check(rnn_forward)`.
From a shell: `python -m autograder release | grade | fixtures` (see README.md).
"""


def check(fn, *helpers):
    """Self-check an exercise function; see autograder.selfcheck.check."""
    __tracebackhide__ = True  # noqa: F841
    from autograder.selfcheck import check as _check
    return _check(fn, *helpers)

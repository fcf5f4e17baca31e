"""Feedback files (autograder/report.py): what a student reads about each failed check."""
import re

from autograder.checks import CheckResult
from autograder.grade import Graded, chapter_named
from autograder.report import CHECK_TITLES, feedback_html, feedback_md

TIMED_OUT = "not run: rnn_step_forward timed out in an earlier check"


def _looping_forward() -> Graded:
    """What a notebook whose rnn_step_forward loops forever gets: one timeout, then the
    same 'not run' message on every later check (as grade.py records it)."""
    graded = Graded("eve.ipynb", "eve", chapter_named("01_rnn_review.ipynb"))
    graded.results = [
        CheckResult("rnn_step_forward", "hidden", 6, 0, "error",
                    "rnn_step_forward did not finish within 1 s (an infinite loop?)"),
        CheckResult("rnn_step_forward", "edges", 2, 0, "error", TIMED_OUT),
        CheckResult("rnn_step_forward", "no_modify", 2, 0, "error", TIMED_OUT),
    ]
    return graded


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end) if end in text else len(text)]


def test_every_failed_check_has_its_reason_in_feedback_md():
    md = feedback_md(_looping_forward())
    part = _section(md, "## Exercise 1.1", "## Exercise 1.2")
    for check in ("hidden", "edges", "no_modify"):
        title = CHECK_TITLES.get(check, check)
        assert f"| {title} | FAIL |" in part
        assert f"**{title}**:" in part, f"{title} fails with no reason shown"
    # the repeat is abbreviated, not dropped, and still says why
    assert part.count(TIMED_OUT) == 2
    assert "same reason as above: not run: rnn_step_forward timed out" in part


def test_every_failed_check_has_its_reason_in_feedback_html():
    page = feedback_html(_looping_forward())
    reasons = re.findall(r"<p><strong>([^<]*)</strong></p><pre>([^<]*)</pre>", page)
    titles = [t for t, _ in reasons]
    assert titles == [CHECK_TITLES.get(c, c) for c in ("hidden", "edges", "no_modify")]
    assert reasons[2][1].startswith("same reason as above: not run: rnn_step_forward")

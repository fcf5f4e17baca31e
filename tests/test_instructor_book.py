"""The instructor edition (`make book INSTRUCTOR=1`): every solution is in the page,
collapsed ("show code") under its exercise, and the checks ran green."""
from __future__ import annotations

import html
import os
import re

import pytest

from autograder.release import solution_regions
from conftest import ROOT

SITE = ROOT / "_build" / "instructor" / "_build" / "html"
if not SITE.exists() and os.environ.get("REQUIRE_BOOK") != "1":
    pytest.skip("the instructor edition is not built (make book INSTRUCTOR=1)", allow_module_level=True)

CHAPTERS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("solution", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_solutions_are_shown_collapsed(solution):
    page = (SITE / "chapters" / (solution.stem + ".html")).read_text()
    collapsed = re.findall(r'<details class="[^"]*hide above-input">(.*?)</details>', page, re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", "\n".join(collapsed)))
    regions = solution_regions(solution)
    assert regions and text.count("### BEGIN SOLUTION") == len(regions)
    for region in regions:
        for line in (l.strip() for l in region if len(l.strip()) >= 12):
            assert line in text, f"{line!r} of {solution.name} is not in a collapsed cell"
    assert "CheckFailed" not in page and "All public checks pass" in page

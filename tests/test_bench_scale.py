"""The scale benchmark (bench/grade_scale.py): the README quotes its recorded run."""
from __future__ import annotations

from conftest import ROOT


def test_readme_quotes_the_recorded_scale_run():
    recorded = (ROOT / "bench" / "results" / "grade_scale.txt").read_text()
    rows = [line for line in recorded.splitlines() if line.startswith("| 1") or line.startswith("| 3")]
    assert [r.split("|")[1].strip() for r in rows] == ["100", "300", "1000"]
    assert all(r.split("|")[1].strip() == r.split("|")[2].strip() for r in rows)   # all graded
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Benchmark: grading a large class"):]
    assert all(r in section for r in rows)

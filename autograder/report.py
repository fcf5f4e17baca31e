"""Write grades: per submission a Gradescope results.json and a feedback.md; per class
a grades.csv rebuilt from every results.json in the folder (so rows graded in an
earlier run, or before a crash, are kept).

Gradescope's format: {"score", "tests": [{"name", "score", "max_score", "status",
"output", "visibility"}], "output", "visibility", "extra_data"}; status is "passed" or
"failed". Our own fields (chapter, per-exercise totals, file hash) go in "extra_data".
"""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
from pathlib import Path

CHECK_TITLES = {"values": "hidden cases", "edges": "edge shapes (N=1, T=1, H=1...)",
                "gradcheck": "gradients vs finite differences", "no_modify": "inputs left unchanged"}


def _number(graded, name: str) -> str:
    if graded.chapter is None:
        return ""
    return next((ex.number for ex in graded.chapter.EXERCISES if ex.name == name), "")


HIDDEN_CASE_CHECKS = {"values", "edges", "gradcheck"}


def results_json(graded, visibility: str = "visible") -> dict:
    """`visibility` applies to the checks on hidden cases; the others are always visible."""
    tests = []
    for r in graded.results:
        tests.append({
            "name": f"{_number(graded, r.exercise)} {r.exercise}: {CHECK_TITLES.get(r.check, r.check)}",
            "score": r.score, "max_score": r.points,
            "status": "passed" if r.passed else "failed",
            "output": r.message,
            "visibility": visibility if r.check in HIDDEN_CASE_CHECKS else "visible"})
    exercises = [ex.name for ex in graded.chapter.EXERCISES] if graded.chapter else []
    general = "\n".join(graded.problems)
    if graded.output:
        general += ("\n\n" if general else "") + "Your code printed:\n" + graded.output[:4000]
    return {
        "score": graded.score, "max_score": graded.max_score, "tests": tests,
        "output": general, "visibility": "visible",
        "extra_data": {"submission": graded.path, "key": graded.key, "sha256": graded.sha256,
                       "chapter": graded.chapter.NOTEBOOK if graded.chapter else None,
                       "exercises": {n: graded.exercise_score(n) for n in exercises},
                       "seconds": round(graded.seconds, 2)}}


def feedback_md(graded) -> str:
    title = graded.chapter.TITLE if graded.chapter else "unknown chapter"
    lines = [f"# Feedback: {graded.key}", "",
             f"Chapter: {title}. Score: **{graded.score:g} / {graded.max_score:g}**", ""]
    for p in graded.problems:
        lines.append(f"> {p}")
    if graded.problems:
        lines.append("")
    for ex in (graded.chapter.EXERCISES if graded.chapter else []):
        mine = [r for r in graded.results if r.exercise == ex.name]
        lines += [f"## Exercise {ex.number} `{ex.name}`: "
                  f"{graded.exercise_score(ex.name):g} / {ex.max_points:g}", "",
                  "| check | result | points |", "|---|---|---|"]
        for r in mine:
            lines.append(f"| {CHECK_TITLES.get(r.check, r.check)} | "
                         f"{'pass' if r.passed else 'FAIL'} | {r.score:g} / {r.points:g} |")
        details, shown = [], set()
        for r in mine:
            if not r.passed and r.message not in shown:
                shown.add(r.message)
                details.append(f"**{CHECK_TITLES.get(r.check, r.check)}**:\n\n```\n{r.message}\n```")
        lines += [""] + details + [""] if details else [""]
    if graded.output:
        lines += ["## What your code printed", "", "```", graded.output[:4000], "```", ""]
    return "\n".join(lines)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; }}
td, th {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }}
.pass {{ color: #116611; font-weight: 600; }} .fail {{ color: #b00020; font-weight: 600; }}
pre {{ background: #f5f5f5; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }}
.problem {{ border-left: 4px solid #b00020; padding-left: .6rem; }}
</style></head><body>
{body}
</body></html>
"""


def feedback_html(graded) -> str:
    """The same feedback as a self-contained page (no scripts, no external files)."""
    e = html.escape
    title = graded.chapter.TITLE if graded.chapter else "unknown chapter"
    parts = [f"<h1>Feedback: {e(graded.key)}</h1>",
             f"<p>Chapter: {e(title)}. Score: <strong>{graded.score:g} / {graded.max_score:g}</strong></p>"]
    parts += [f'<p class="problem">{e(p)}</p>' for p in graded.problems]
    for ex in (graded.chapter.EXERCISES if graded.chapter else []):
        mine = [r for r in graded.results if r.exercise == ex.name]
        parts.append(f"<h2>Exercise {e(ex.number)} <code>{e(ex.name)}</code>: "
                     f"{graded.exercise_score(ex.name):g} / {ex.max_points:g}</h2>")
        rows = "".join(f"<tr><td>{e(CHECK_TITLES.get(r.check, r.check))}</td><td class="
                       f"{'pass' if r.passed else 'fail'}>{'pass' if r.passed else 'FAIL'}</td>"
                       f"<td>{r.score:g} / {r.points:g}</td></tr>" for r in mine)
        parts.append(f"<table><tr><th>check</th><th>result</th><th>points</th></tr>{rows}</table>")
        shown = set()
        for r in mine:
            if not r.passed and r.message not in shown:
                shown.add(r.message)
                parts.append(f"<p><strong>{e(CHECK_TITLES.get(r.check, r.check))}</strong></p>"
                             f"<pre>{e(r.message)}</pre>")
    if graded.output:
        parts.append(f"<h2>What your code printed</h2><pre>{e(graded.output[:4000])}</pre>")
    return PAGE.format(title=e(graded.key), body="\n".join(parts))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_submission(out: Path, graded, visibility: str = "visible") -> Path:
    folder = Path(out) / graded.key
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / "results.json", json.dumps(results_json(graded, visibility), indent=1))
    _write_atomic(folder / "feedback.md", feedback_md(graded))
    _write_atomic(folder / "feedback.html", feedback_html(graded))
    return folder


def already_graded(out: Path, key: str, path: Path) -> bool:
    try:
        old = json.loads((Path(out) / key / "results.json").read_text())
        return old["extra_data"]["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (OSError, ValueError, KeyError, TypeError):
        return False


FIXED_COLUMNS = ("submission", "student", "chapter", "total", "max_score", "problem")


def student_of(key: str) -> str:
    """The student a submission belongs to: its folder (<student>/...) or the part of a
    flat file name before the first underscore (<student>_<anything>)."""
    if "__" in key:
        return key.split("__")[0]
    return key.split("_")[0] if "_" in key else key


def read_grades(out: Path) -> list[dict]:
    try:
        with open(Path(out) / "grades.csv", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def write_grades_csv(out: Path) -> Path:
    """One row per submission folder in `out`, one column per exercise."""
    rows, columns = [], []
    for results in sorted(Path(out).glob("*/results.json")):
        try:
            data = json.loads(results.read_text())
            extra = data["extra_data"]
        except (OSError, ValueError, KeyError):
            continue
        for name in extra.get("exercises", {}):
            if name not in columns:
                columns.append(name)
        problem = data.get("output", "").split("\n")[0][:200]
        key = extra.get("key", results.parent.name)
        rows.append({"submission": key, "student": student_of(key),
                     "chapter": (extra.get("chapter") or "").replace(".ipynb", ""),
                     **extra.get("exercises", {}), "total": data["score"],
                     "max_score": data["max_score"], "problem": problem})
    target = Path(out) / "grades.csv"
    tmp = target.with_name("grades.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["submission", "student", "chapter", *columns, "total",
                                    "max_score", "problem"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, target)
    return target

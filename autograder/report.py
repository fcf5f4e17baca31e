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
import re
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
                       "numbers": {n: _number(graded, n) for n in exercises},
                       "problem": problem_of(graded),
                       "seconds": round(graded.seconds, 2)}}


def shorten(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, cut between words (never inside one)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def problem_of(graded) -> str:
    """What the grades table says went wrong: the notebook's first problem, else the first
    check that could not run (not defined, an exception, a timeout, a crash), named by its
    exercise. A wrong answer is not a problem: its score says it."""
    if graded.problems:
        return shorten(graded.problems[0])
    errors = [r for r in graded.results if r.status == "error"]
    if not errors:
        return ""
    first = errors[0]
    others = len({r.exercise for r in errors}) - 1
    more = f" (and {others} more exercise{'s' if others > 1 else ''})" if others else ""
    head = f"{_number(graded, first.exercise)} {first.exercise}".strip()
    message = (first.message.strip().splitlines() or [""])[0]
    return shorten(f"{head}: {message}{more}")


def failure_reasons(results) -> list[tuple[str, str]]:
    """(check title, reason) for every failed check of one exercise, in order. A reason
    already given above is abbreviated, never left out: a FAIL row always has its why."""
    reasons, shown = [], set()
    for r in results:
        if r.passed:
            continue
        why = r.message.strip() or "no reason recorded (please tell your instructor)"
        if why in shown:
            why = f"same reason as above: {shorten(why, 60)}"
        else:
            shown.add(why)
        reasons.append((CHECK_TITLES.get(r.check, r.check), why))
    return reasons


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
        details = [f"**{title}**:\n\n```\n{why}\n```" for title, why in failure_reasons(mine)]
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
        parts += [f"<p><strong>{e(title)}</strong></p><pre>{e(why)}</pre>"
                  for title, why in failure_reasons(mine)]
    if graded.output:
        parts.append(f"<h2>What your code printed</h2><pre>{e(graded.output[:4000])}</pre>")
    return PAGE.format(title=e(graded.key), body="\n".join(parts))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", errors="replace")   # (a lone surrogate in a name)
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
TEXT_COLUMNS = ("submission", "student", "chapter", "problem")


def _chapters():
    from autograder.exercises import CHAPTERS
    return CHAPTERS


def student_of(key: str, path: str = "") -> str:
    """The student a submission belongs to: its folder (<student>/...), or the part of a
    flat file name before the first underscore (<student>_<anything>, as LMS exports
    name files) once the chapter's name is taken out; a file named only after the chapter
    (01_rnn_review.ipynb) belongs to the folder it is in. Never the chapter number."""
    if "__" in key:
        return key.split("__")[0]
    rest = key
    for chapter in _chapters():
        rest = rest.replace(chapter.NOTEBOOK[:-6], " ")
    rest = re.sub(r"(?:^|_)\d\d(?=_|$)", " ", rest) if rest == key else rest   # NN_<other>
    rest = rest.strip(" _-.")
    if not rest:
        return Path(path).parent.name if path else ""
    return rest.split("_")[0].strip() or rest


def exercise_columns(extra: dict) -> list[tuple[str, str]]:
    """(column title, exercise name) for each exercise of a results.json: `2.4 LSTMCell`
    (chapters 2 and 3 both have an LSTMCell: one column each)."""
    numbers = extra.get("numbers") or {}
    if not numbers and extra.get("chapter"):   # written by an older grader: look it up
        chapter = next((c for c in _chapters() if c.NOTEBOOK == extra["chapter"]), None)
        numbers = {ex.name: ex.number for ex in chapter.EXERCISES} if chapter else {}
    return [(f"{numbers.get(name, '')} {name}".strip(), name) for name in extra.get("exercises", {})]


def _order(title: str) -> tuple:
    number = title.split(" ")[0]
    return tuple(int(x) if x.isdigit() else 0 for x in number.split(".")) if number[:1].isdigit() else (999,)


def score_text(value) -> str:
    """Every score in the table in one format: two decimals."""
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return ""


def safe_cell(text) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection): one that starts
    with = + - @ (or a tab or carriage return) gets a leading apostrophe."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def read_grades(out: Path) -> list[dict]:
    try:
        with open(Path(out) / "grades.csv", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def write_grades_csv(out: Path) -> Path:
    """One row per submission folder in `out`, one column per exercise (`1.2 rnn_forward`),
    in the book's order."""
    rows, columns = [], []
    for results in sorted(Path(out).glob("*/results.json")):
        try:
            data = json.loads(results.read_text(encoding="utf-8"))
            extra = data["extra_data"]
            cells = exercise_columns(extra)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        for title, _ in cells:
            if title not in columns:
                columns.append(title)
        problem = extra.get("problem")
        if problem is None:   # written by an older grader
            problem = shorten(data.get("output", "").split("\n")[0])
        key = extra.get("key", results.parent.name)
        row = {"submission": key, "student": student_of(key, extra.get("submission") or ""),
               "chapter": (extra.get("chapter") or "").replace(".ipynb", ""),
               **{title: score_text(extra["exercises"][name]) for title, name in cells},
               "total": score_text(data.get("score")), "max_score": score_text(data.get("max_score")),
               "problem": problem}
        rows.append({k: safe_cell(v) if k in TEXT_COLUMNS else v for k, v in row.items()})
    columns.sort(key=_order)
    target = Path(out) / "grades.csv"
    tmp = target.with_name("grades.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.DictWriter(f, ["submission", "student", "chapter", *columns, "total",
                                    "max_score", "problem"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, target)
    return target

"""How the HTML book presents an exercise: a frame from the exercise's metadata, and the stub
shown as `...`, so a page reads as a book, not as a wall of failing cells.

The student notebook is the page's source (its download button hands it out unchanged), and
in it every stub raises NotImplementedError and every Check cell runs. The book must not
show either failure, and must not produce it and then scrub it out of the HTML. So:

1. `release` puts a *frame* before each exercise's code cell (`add_frames`): a box saying
   the exercise's number, its points (from `autograder/exercises/*.py`), what to
   implement, how to check it and what a passing check prints. It is HTML around Markdown,
   which JupyterLab renders as it is and Jupyter Book renders as an admonition box (a
   MyST directive would show as raw `:::{admonition}` text in JupyterLab).
2. `release` tags every cell that raises until the exercises are solved with
   `skip-execution` as well as `raises-exception`: nbclient, which the book uses to run a
   page, does not run it (the page shows its code, no output); nbval and Jupyter ignore
   the tag, so tests and students run it as before.
3. This module is also a Sphinx extension (`setup`, listed in _config.yml): when the
   book reads a chapter notebook, each stub line `raise NotImplementedError(...)` is read
   as `...` with the same indentation (`shown_stub`). The book shows the function's
   signature, docstring and given code with `...` where the student writes; the
   downloaded notebook keeps the stub. Under each demo the book does not run (a skipped
   cell that is not a check), a line says why it has no output. Nothing is changed after
   the page is rendered.

Only the standard library and the exercises' metadata are used.
"""
from __future__ import annotations

import ast
import copy
import json
import re

# A line that only raises NotImplementedError: release's stub (release.stub_source, message
# "Student exercise: implement X") or given code completed in a later chapter.
STUB = re.compile(r'^(?P<pad>[ \t]*)raise NotImplementedError(\((?P<q>["\'])(?P<msg>[^"\'\n]*)'
                  r'(?P=q)\))?[ \t]*$')
RELEASE_STUB = ("Student exercise: implement ", "Exercise: replace this line with your code")
SKIP = "skip-execution"
FRAME_CLASS = "exercise-frame"
# What selfcheck.check prints after its table when every check passes (tests compare).
PASS_LINE = "All public checks pass. The grader also runs hidden cases of other shapes."

# What each check of a self-check table looks at (the frame's "Check it" sentence). Property
# checks (shape, bounds, ...) are named by what they test and need no gloss.
CHECK_WORDS = {
    "values": "outputs on a regular case",
    "edges": "outputs on edge cases",
    "gradcheck": "gradients against centred finite differences",
    "no_modify": "the inputs are left unchanged",
}

# What the letters of a case label mean: a failing check names its case, e.g.
# `[N=3, D=5, H=4, G=16]`. LABELS are the book's letters, the same in every chapter; a letter
# that means something in one chapter only is that chapter's: in its module's CASE_LABELS
# dict (a new chapter declares its letters there), or for the first six chapters in
# CHAPTER_LABELS below. tests/test_book_view.py fails on a letter nobody explains.
LABELS = {
    "N": "batch size",
    "T": "time steps",
    "D": "input features",
    "H": "hidden units",
    "G": "columns of the fused gate weights",
}
CHAPTER_LABELS = {
    "02_lstm_interface.ipynb": {
        "seq": "return_sequences",
        "state": "return_state",
        "init": "1 if an initial state is passed",
        "cell": "the test cell: 0 has two states (like an LSTM), 1 has one",
    },
    "03_gates.ipynb": {"big": "1 if the inputs include 0 and values up to 1e4 in size"},
    "04_gru.ipynb": {"K": "columns of the fused weights"},
    "05_backprop_cell_state.ipynb": {"K": "columns of the fused weights"},
    "06_capstone.ipynb": {"K": "columns of the fused weights", "O": "outputs of the head"},
}


# ----------------------------------------------------------------------------- stubs

def shown_stub(source: str) -> str:
    """`source` with each line that only raises NotImplementedError shown as `...` at the
    same indentation: release's stubs as `...` alone, any other with its message as a
    comment (`...  # LSTMCell.__call__ is completed in chapter 3`). Other lines unchanged."""
    lines = source.splitlines(keepends=True)
    for k, line in enumerate(lines):
        m = STUB.match(line.rstrip("\r\n"))
        if not m:
            continue
        msg = m.group("msg") or ""
        note = "" if not msg or msg.startswith(RELEASE_STUB) else f"  # {msg}"
        lines[k] = m.group("pad") + "..." + note + line[len(line.rstrip("\r\n")):]
    return "".join(lines)


# Under a cell the book does not run that is not a check (a demo that calls the exercises):
# the reader sees its code and no output, so the page says why.
DEMO_NOTE = ("*The book does not run this cell: it calls your functions. In the notebook it "
             "runs once the exercises above pass their checks.*")


def book_notebook_text(text: str) -> str:
    """The chapter notebook `text` (JSON) as the book reads it: stubs shown as `...`, and a
    note under each demo the book does not run."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:
        return text        # not ours to judge: myst-nb reports it
    changed, cells = False, []
    for cell in nb.get("cells", []):
        cells.append(cell)
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        shown = shown_stub(src)
        if shown != src:
            cell["source"], changed = shown, True
        tags = cell.get("metadata", {}).get("tags", [])
        if SKIP in tags and not src.lstrip().startswith("check("):
            note = {"cell_type": "markdown", "metadata": {}, "source": DEMO_NOTE}
            if cell.get("id"):
                note["id"] = f"{cell['id']}-book-note"
            cells.append(note)
            changed = True
    nb["cells"] = cells
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n" if changed else text


def _source_read(app, docname: str, source: list[str]) -> None:
    path = str(app.env.doc2path(docname))
    if path.endswith(".ipynb"):
        source[0] = book_notebook_text(source[0])


def setup(app):
    """Sphinx extension: chapter notebooks are read with their stubs shown as `...`."""
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# ----------------------------------------------------------------------------- frames

def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _defined(cell: dict, name: str) -> ast.AST | None:
    """The top-level def or class `name` of a code cell, or None."""
    try:
        tree = ast.parse(re.sub(r"(?m)^(\s*)[%!].*", r"\1pass", _source(cell)))
    except SyntaxError:
        return None
    return next((s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.ClassDef))
                 and s.name == name), None)


def _signature(node: ast.FunctionDef) -> str:
    args = ast.unparse(node.args)
    return f"{node.name}({args})"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _what(node: ast.AST, ex, methods: list[str]) -> str:
    """'`f(x, h)`, which returns `(h_next, cache)`' or 'the methods ... of the class `C`'."""
    if isinstance(node, ast.ClassDef):
        names = [f"`{m}`" for m in methods]
        kind = "method" if len(names) == 1 else "methods"
        return f"the {kind} {_and(names)} of the class `{node.name}` (the rest is given)"
    returns = [r for r in ex.returns]
    out = f"`{_signature(node)}`"
    if len(returns) == 1:
        out += f", which returns `{returns[0]}`"
    elif returns:
        out += f", which returns `({', '.join(returns)})`"
    return out


def case_labels(chapter) -> dict[str, str]:
    """What each case-label letter means in `chapter` (a module of autograder.exercises):
    LABELS, then CHAPTER_LABELS of its notebook, then the module's own CASE_LABELS."""
    return {**LABELS, **CHAPTER_LABELS.get(getattr(chapter, "NOTEBOOK", None), {}),
            **getattr(chapter, "CASE_LABELS", {})}


def unexplained_labels(ex, chapter=None) -> list[str]:
    """Labels the public cases of `ex` use that nobody explains (a test keeps it empty)."""
    labels = case_labels(chapter)
    return sorted({k for d in ex.public_dims for k in d if k != "seed" and k not in labels})


def case_words(ex, chapter=None) -> str:
    """'`[N=3, D=5, H=4, G=16]`: N batch size; ...; G = 4H columns of ...' for the first
    public case of `ex`, or '' when its checks use no stored cases. A letter nobody
    explains is shown bare (tests/test_book_view.py fails on it)."""
    if not ex.public_dims:
        return ""
    labels = case_labels(chapter)
    case = {k: v for k, v in ex.public_dims[0].items() if k != "seed"}
    words = []
    for k, v in case.items():
        if k not in labels:
            words.append(k)
        elif labels[k].startswith("columns of the fused") and case.get("H") and v % case["H"] == 0:
            times = v // case["H"]
            words.append(f"{k} = {'' if times == 1 else times}H {labels[k]}")
        else:
            words.append(f"{k} {labels[k]}")
    label = ", ".join(f"{k}={v}" for k, v in case.items())
    return f"`[{label}]`: {'; '.join(words)}"


def frame_markdown(ex, node: ast.AST, methods: list[str], check_call: str, chapter=None) -> str:
    """The frame of exercise `ex` of `chapter`, defined by `node` in the cell after it."""
    total = sum(ex.points.values())
    checks = ", ".join(f"{name} {p:g}" + (f" ({CHECK_WORDS[name]})" if name in CHECK_WORDS else "")
                       for name, p in ex.points.items())
    header = f"Exercise {ex.number} {ex.name}: {total:g}/{total:g} points on the public checks"
    where = "each `# YOUR CODE HERE`" if len(methods) > 1 else "`# YOUR CODE HERE`"
    case = case_words(ex, chapter)
    return "\n".join([
        f'<div class="admonition {FRAME_CLASS}">',
        # <strong>: JupyterLab shows the title as a plain paragraph (no admonition style)
        f'<p class="admonition-title"><strong>Exercise {ex.number} · {ex.name} · {total:g} '
        f'points</strong></p>',
        "",
        f"**Implement** {_what(node, ex, methods)}. Write {'them' if len(methods) > 1 else 'it'} "
        f"in the code cell below, under "
        f"{where}, in place of the stub: shown as `...` in the book; in the notebook, a line "
        f"that raises an error until you replace it.",
        "",
        f"**Check it**: run `{check_call}` in the Check cell under it. Its checks, with "
        f"their points: {checks}. The grader runs the same checks on hidden cases."
        + (f" A failing check names the case it ran, e.g. {case}." if case else ""),
        "",
        f"**A passing check prints** a table headed `{header}` with `pass` in every row, "
        f"then `{PASS_LINE}`",
        "",
        "</div>",
    ])


def _check_call(cells: list[dict], start: int, name: str) -> str:
    """The first `check(name, ...)` call in a code cell after `start`."""
    pattern = re.compile(rf"^check\(\s*{re.escape(name)}\b[^\n]*\)", re.MULTILINE)
    for cell in cells[start + 1:]:
        if cell.get("cell_type") == "code":
            m = pattern.search(_source(cell))
            if m:
                return m.group(0)
    return f"check({name})"


def _is_frame(cell: dict) -> bool:
    return cell.get("cell_type") == "markdown" and \
        _source(cell).startswith(f'<div class="admonition {FRAME_CLASS}">')


def add_frames(nb: dict, chapter, exercise_names: set[str]) -> dict:
    """`nb` (a new notebook) with a frame cell before the cell defining each exercise of
    `chapter` (a module of autograder.exercises) that is an exercise here: one whose
    definition holds a solution region (`exercise_names`, from release). Frames already
    there are replaced, so adding them twice gives the same notebook."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.get("cells", []) if not _is_frame(c)]
    out, framed = [], set()
    for k, cell in enumerate(cells):
        for ex in chapter.EXERCISES:
            node = _defined(cell, ex.name) if cell.get("cell_type") == "code" else None
            if node is None or ex.name not in exercise_names or ex.name in framed:
                continue
            framed.add(ex.name)
            methods = sorted(n.split(".", 1)[1] for n in exercise_names
                             if n.startswith(ex.name + ".") and n.count(".") == 1)
            methods = [m for m in (s.name for s in getattr(node, "body", [])
                                   if isinstance(s, ast.FunctionDef)) if m in methods]
            frame = {"cell_type": "markdown", "metadata": {},
                     "source": frame_markdown(ex, node, methods,
                                              _check_call(cells, k, ex.name), chapter)}
            if cell.get("id"):
                frame["id"] = f"{cell['id']}-frame"
            out.append(frame)
        out.append(cell)
    nb["cells"] = out
    return nb

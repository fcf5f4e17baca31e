"""Make the student notebooks from the instructor's: `solutions/` -> `chapters/`.

`solutions/NN_name.ipynb` is the single source of truth. `chapters/NN_name.ipynb` is
generated from it, committed, and never edited by hand. One solution notebook goes
through these steps, in this order (`to_student`):

1. drop instructor-only cells: any cell whose first line is `### SOLUTION CELL`;
2. find the solution regions: the lines between `### BEGIN SOLUTION` and
   `### END SOLUTION` in a code cell (`solution_regions`), and the function or class
   each one sits in (`exercise_names`);
3. replace each region, markers included, by a stub at the marker's indentation
   (`stub_source`):
       # YOUR CODE HERE
       raise NotImplementedError("Student exercise: implement rnn_forward")
4. tag `raises-exception` on every code cell that will raise until the exercises are
   solved, so nbval and a student run the notebook top to bottom (`raising_cells`),
   and `skip-execution` on the same cells, so the book does not run them and shows no
   failure (autograder.book_view);
5. put a frame before each exercise: number, points, what to implement, how to check
   it, what a passing check prints, from its metadata in autograder/exercises
   (`autograder.book_view.add_frames`);
6. clean: no outputs, execution counts reset, only the metadata the book needs
   (`clean`, also applied to the solution notebooks themselves).

Steps 2-5 read the sources before 6 throws anything away, and 4 reads the stubbed
sources of 3, so the order matters.

Carried code. A later chapter may need functions written in an earlier one (chapter 5
differentiates chapter 3's forward). Its solution notebook then holds a *carried cell*,
whose first line names them:

    ### FROM 03_gates: sigmoid, lstm_step_forward, lstm_forward

and whose body is a verbatim copy of those top-level defs of solutions/03_gates.ipynb, in
that order, separated by two blank lines. Nobody edits that body: `release` rewrites it
from the source notebook (`refresh_carried`) and `release --check` reports it as stale
when it differs. A def is carried from the chapter that writes it, never from another
carried cell. In the student notebook the carried cell keeps its marker, gets a comment
asking for the student's own bodies, and the defs exactly as stubbed in that chapter
(`carried_student_source`). Carried functions are not exercises of the carrying chapter
(`exercise_names` skips the cell), but cells that call them are tagged like the rest.

`release` does all this for every notebook, writes the result in Jupyter's own file
format (`notebook_text`), and then the grader's fixtures (`autograder.make_fixtures`, when
present). `release(check=True)` writes nothing and lists
what is out of date instead; CI runs it, so a chapter can never drift from its solution.

Only the standard library is used: the grader must not need nbformat.
"""
from __future__ import annotations

import argparse
import ast
import copy
import importlib
import importlib.util
import json
import re
from pathlib import Path

from autograder.book_view import SKIP, add_frames

# Markers are matched on the stripped line, with any number of '#' and any case, as
# nbgrader does: "### BEGIN SOLUTION", "# END SOLUTION", "## begin solution".
BEGIN = re.compile(r"^#+\s*BEGIN\s+SOLUTION\b", re.IGNORECASE)
END = re.compile(r"^#+\s*END\s+SOLUTION\b", re.IGNORECASE)
SOLUTION_CELL = re.compile(r"^#+\s*SOLUTION\s+CELL\b", re.IGNORECASE)
# "### FROM 03_gates: sigmoid, lstm_step_forward": a cell carried from another chapter.
CARRIED = re.compile(r"^#+\s*FROM\s+([\w.-]+)\s*:(.*)$", re.IGNORECASE)

KEEP_CELL_METADATA = ("tags", "mystnb")
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
RAISES = "raises-exception"
BOOK_SKIP = SKIP    # the book (nbclient) does not run these cells; nbval and Jupyter do
RELEASE_CMD = "python -m autograder release"
CLEAN_CMD = "python -m autograder release --clean-solutions"


class ReleaseError(Exception):
    """A solution notebook cannot be turned into a student notebook. Says where and why."""


# ---------------------------------------------------------------------------- reading

def read_notebook(path: str | Path) -> dict:
    """The notebook at `path` as plain JSON (nbformat 4), or ReleaseError."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReleaseError(f"{path}: cannot read it as a notebook: {e}") from None


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _where(name: str | None, index: int, cell: dict) -> str:
    """'solutions/01_x.ipynb, cell 9 (id rnn-review-08)'; cells counted from 1."""
    where = f"{name or 'notebook'}, cell {index + 1}"
    return where + (f" (id {cell['id']})" if cell.get("id") else "")


def _is_solution_cell(cell: dict) -> bool:
    lines = _source(cell).splitlines()
    return bool(lines) and bool(SOLUTION_CELL.match(lines[0].strip()))


# --------------------------------------------------------------------------- regions

def _find_regions(lines: list[str], where: str) -> list[tuple[int, int]]:
    """(begin, end) line indices of the markers of each region, or ReleaseError."""
    regions, begin = [], None
    for i, line in enumerate(lines):
        if BEGIN.match(line.strip()):
            if begin is not None:
                raise ReleaseError(f"{where}: line {i + 1} opens a solution region inside "
                                   f"the one opened at line {begin + 1}; regions cannot nest")
            begin = i
        elif END.match(line.strip()):
            if begin is None:
                raise ReleaseError(f"{where}: line {i + 1} closes a solution region that "
                                   f"was never opened (### END SOLUTION without BEGIN)")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise ReleaseError(f"{where}: the solution region opened at line {begin + 1} is "
                           f"never closed (### BEGIN SOLUTION without END)")
    return regions


def _check_markdown(cell: dict, where: str) -> None:
    """Markers only make sense in code: refuse them elsewhere rather than publish them."""
    if cell.get("cell_type") != "code" and any(
            BEGIN.match(s.strip()) or END.match(s.strip()) for s in _source(cell).splitlines()):
        raise ReleaseError(f"{where}: solution markers in a {cell.get('cell_type')} cell; "
                           f"only code cells can hold solution regions")


def solution_regions(nb_or_path: dict | str | Path, name: str | None = None) -> list[list[str]]:
    """The lines inside every solution region of every code cell, markers excluded."""
    if isinstance(nb_or_path, (str, Path)):
        name = name or str(nb_or_path)
        nb_or_path = read_notebook(nb_or_path)
    out = []
    for k, cell in enumerate(nb_or_path.get("cells", [])):
        _check_markdown(cell, _where(name, k, cell))
        if cell.get("cell_type") != "code":
            continue
        lines = _source(cell).splitlines()
        out += [lines[b + 1:e] for b, e in _find_regions(lines, _where(name, k, cell))]
    return out


# --------------------------------------------------------- which def holds a region

def _parse(source: str) -> ast.Module | None:
    """The cell as Python, with IPython's `%magic` and `!shell` lines read as `pass`."""
    lines = [re.sub(r"^(\s*)[%!].*", r"\1pass", s) for s in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _child_statements(stmt: ast.stmt) -> list[ast.stmt]:
    """The statements nested in a compound statement (if/for/while/with/try/match)."""
    kids = []
    for attr in ("body", "orelse", "finalbody"):
        kids += getattr(stmt, attr, [])
    for part in getattr(stmt, "handlers", []) + getattr(stmt, "cases", []):
        kids += part.body
    return sorted(kids, key=_first_line)


def _first_line(stmt: ast.stmt) -> int:
    return min([d.lineno for d in getattr(stmt, "decorator_list", [])] + [stmt.lineno])


def _defs_around(body: list[ast.stmt], line: int, col: int, stop: float) -> list[str]:
    """Names of the def/class statements enclosing (line, col), outermost first.

    A statement owns the lines from its first one up to the next sibling's, so a marker
    after the last statement of a function (or before the first) still belongs to it.
    """
    for k, stmt in enumerate(body):
        end = _first_line(body[k + 1]) - 1 if k + 1 < len(body) else stop
        if not _first_line(stmt) <= line <= end:
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if col <= stmt.col_offset:
                return []
            return [stmt.name] + _defs_around(stmt.body, line, col, end)
        return _defs_around(_child_statements(stmt), line, col, end)
    return []


def _defs_by_indentation(lines: list[str], index: int) -> list[str]:
    """Fallback for cells that do not parse: scan upwards for less-indented def/class."""
    chain, indent = [], _indent(lines[index])
    for line in reversed(lines[:index]):
        s = line.strip()
        if not s or s.startswith("#") or _indent(line) >= indent:
            continue
        m = re.match(r"(?:async\s+)?(?:def|class)\s+(\w+)", s)
        if m:
            chain.insert(0, m.group(1))
        indent = _indent(line)
    return chain


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _region_owners(source: str, where: str) -> list[str | None]:
    """For each region of a cell, the dotted name of the def holding it ('LSTM.forward'),
    or None for a region outside any def."""
    lines = source.splitlines()
    tree = _parse(source)
    owners = []
    for b, _ in _find_regions(lines, where):
        if tree is not None:
            chain = _defs_around(tree.body, b + 1, _indent(lines[b]), float("inf"))
        else:
            chain = _defs_by_indentation(lines, b)
        owners.append(".".join(chain) or None)
    return owners


def exercise_names(nb: dict, name: str | None = None) -> set[str]:
    """Functions and classes whose definition holds a solution region.

    A method gives both its class and itself: {'LSTM', 'LSTM.forward'}. Instructor-only
    cells are left out: students never see them. So are carried cells: their functions
    are the exercises of the chapter they come from.
    """
    names = set()
    for k, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or _is_solution_cell(cell) or carried_from(cell):
            continue
        for owner in _region_owners(_source(cell), _where(name, k, cell)):
            parts = (owner or "").split(".")
            names |= {".".join(parts[:n]) for n in range(1, len(parts) + 1) if owner}
    return names


# ------------------------------------------------------------------------- stubbing

def stub_source(source: str, exercise_name_hint: str | None = None,
                where: str = "source") -> str:
    """`source` with each solution region, markers included, replaced by a stub.

    The stub sits at the BEGIN marker's indentation and names the def holding the region
    ('LSTM.forward' for a method); `exercise_name_hint` names a region outside any def.
    """
    lines = source.splitlines(keepends=True)
    regions = _find_regions([s.rstrip("\r\n") for s in lines], where)
    owners = _region_owners(source, where)
    for (b, e), owner in reversed(list(zip(regions, owners))):
        name = owner or exercise_name_hint
        message = (f"Student exercise: implement {name}" if name
                   else "Exercise: replace this line with your code")
        pad = lines[b][:_indent(lines[b])]
        newline = lines[e][len(lines[e].rstrip("\r\n")):]   # "" if END was the last line
        stub = [f"{pad}# YOUR CODE HERE\n",
                f"{pad}raise NotImplementedError({json.dumps(message)}){newline}"]
        lines[b:e + 1] = stub
    return "".join(lines)


# --------------------------------------------------------------------- carried code

def carried_from(cell: dict) -> tuple[str, list[str]] | None:
    """(source chapter, function names) of a carried cell, None for any other cell.

    `### FROM 03_gates: sigmoid, lstm_step_forward` gives ('03_gates', ['sigmoid',
    'lstm_step_forward']). A marker naming no function, or something that is not a
    name, is a ReleaseError rather than a cell silently left alone.
    """
    if cell.get("cell_type") != "code":
        return None
    lines = _source(cell).splitlines()
    m = CARRIED.match(lines[0].strip()) if lines else None
    if m is None:
        return None
    chapter = m.group(1)
    if chapter.endswith(".ipynb"):
        chapter = chapter[:-len(".ipynb")]
    names = [n.strip() for n in m.group(2).split(",")]
    if not any(names) or not all(n.isidentifier() for n in names):
        raise ReleaseError(f"carried cell `{lines[0].strip()}`: after the colon, list the "
                           f"functions to carry, separated by commas")
    if len(set(names)) != len(names):
        raise ReleaseError(f"carried cell `{lines[0].strip()}` names a function twice")
    return chapter, names


def _def_span(lines: list[str], body: list[ast.stmt], k: int) -> tuple[int, int]:
    """0-based [start, end) lines of top-level statement k, decorators included, and the
    comment lines indented inside it after its last statement (an END SOLUTION marker)."""
    stmt = body[k]
    start, end = _first_line(stmt) - 1, stmt.end_lineno
    stop = _first_line(body[k + 1]) - 1 if k + 1 < len(body) else len(lines)
    while end < stop and (not lines[end].strip() or _indent(lines[end]) > stmt.col_offset):
        end += 1
    while end > stmt.end_lineno and not lines[end - 1].strip():
        end -= 1
    return start, end


def top_level_defs(nb: dict) -> dict[str, str]:
    """Name -> verbatim source of each top-level def or class of the notebook (the last
    one when a name is defined twice, as a kernel would keep), from the cells students
    see: not instructor-only cells, not carried cells."""
    defs = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or _is_solution_cell(cell) or carried_from(cell):
            continue
        source = _source(cell)
        tree = _parse(source)
        if tree is None:
            continue
        lines = source.splitlines()
        for k, stmt in enumerate(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start, end = _def_span(lines, tree.body, k)
                defs[stmt.name] = "\n".join(lines[start:end])
    return defs


def _carried_elsewhere(nb: dict, name: str) -> str | None:
    """The chapter a carried cell of `nb` takes `name` from, if any."""
    for cell in nb.get("cells", []):
        found = carried_from(cell)
        if found and name in found[1]:
            return found[0]
    return None


def carried_source(root: str | Path, chapter: str, names: list[str], where: str = "") -> str:
    """The body of a carried cell: the defs `names` of solutions/<chapter>.ipynb, in
    that order, separated by two blank lines (the marker line not included)."""
    path = Path(root) / "solutions" / f"{chapter}.ipynb"
    prefix = f"{where}: " if where else ""
    if not path.exists():
        known = sorted(p.stem for p in (Path(root) / "solutions").glob("*.ipynb"))
        raise ReleaseError(f"{prefix}carries functions from {chapter}, but there is no "
                           f"solutions/{chapter}.ipynb (chapters: {', '.join(known)})")
    nb = read_notebook(path)
    defs = top_level_defs(nb)
    for name in names:
        if name not in defs:
            origin = _carried_elsewhere(nb, name)
            why = (f"it is carried there from {origin}: carry it from {origin}" if origin
                   else f"its top-level functions are {', '.join(sorted(defs)) or 'none'}")
            raise ReleaseError(f"{prefix}solutions/{chapter}.ipynb has no top-level "
                               f"function {name} to carry; {why}")
    return "\n\n\n".join(defs[n] for n in names)


def refresh_carried(nb: dict, root: str | Path, name: str | None = None) -> tuple[dict, list[str]]:
    """`nb` with the body of every carried cell rewritten from its source notebook (a new
    notebook), and where it was stale ('solutions/05_x.ipynb, cell 4 (id ...)')."""
    nb, stale = copy.deepcopy(nb), []
    for k, cell in enumerate(nb.get("cells", [])):
        where = _where(name, k, cell)
        try:
            found = carried_from(cell)
        except ReleaseError as e:
            raise ReleaseError(f"{where}: {e}") from None
        if not found:
            continue
        marker = _source(cell).splitlines()[0]
        fresh = marker + "\n" + carried_source(root, *found, where=where)
        if _source(cell) != fresh:
            cell["source"] = fresh
            stale.append(where)
    return nb, stale


def _chapter_number(chapter: str) -> str:
    m = re.match(r"0*(\d+)", chapter)
    return f"chapter {m.group(1)}" if m else chapter


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def carried_student_source(source: str, where: str = "source") -> str:
    """The student version of a carried cell: the marker, a comment asking for the
    student's own bodies, and the defs stubbed exactly as in the chapter they come from."""
    chapter, names = carried_from({"cell_type": "code", "source": source})
    marker, _, body = source.partition("\n")
    note = (f"# From {_chapter_number(chapter)}: paste your bodies of {_and(names)} here\n"
            f"# (your solutions in that chapter's notebook): this chapter's exercises call them.\n")
    return marker + "\n" + note + stub_source(body, where=where)


# -------------------------------------------------------------------------- tagging

def _runs_now(node: ast.AST):
    """The nodes of a statement that run when the statement runs: not function bodies
    (only their decorators and defaults), but class bodies."""
    yield node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        kids = getattr(node, "decorator_list", []) + node.args.defaults + \
            [d for d in node.args.kw_defaults if d is not None]
    else:
        kids = ast.iter_child_nodes(node)
    for kid in kids:
        yield from _runs_now(kid)


def _hits(nodes, names: set[str], methods: set[str]) -> bool:
    """Does any node use one of `names`, call `.method` of an exercise, or raise
    NotImplementedError (a stub at the top of a cell)?"""
    for n in nodes:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names:
            return True
        if isinstance(n, ast.Attribute) and n.attr in methods:
            return True
        if isinstance(n, ast.Raise) and n.exc is not None and \
                "NotImplementedError" in ast.unparse(n.exc):
            return True
    return False


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    out = set()
    for n in _runs_now(stmt):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
    return out


def _target_names(target: ast.AST | None) -> set[str]:
    """Names a for-loop target or a `with ... as` target binds."""
    if target is None:
        return set()
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _stmt_hits(stmt: ast.stmt, tainted: set[str], methods: set[str]) -> bool:
    """Does running `stmt` use a tainted name? A for loop's target and a `with`'s `as`
    names are bound before the body runs, so the body's use of them is not a use of the
    tainted value (`for name, style in ...: print(name)` after a cell that failed while
    binding `name`)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        inner = tainted - _target_names(stmt.target)
        return _hits(_runs_now(stmt.iter), tainted, methods) or \
            any(_stmt_hits(s, inner, methods) for s in stmt.body + stmt.orelse)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        if any(_hits(_runs_now(i.context_expr), tainted, methods) for i in stmt.items):
            return True
        inner = tainted - set().union(*(_target_names(i.optional_vars) for i in stmt.items))
        return any(_stmt_hits(s, inner, methods) for s in stmt.body)
    return _hits(_runs_now(stmt), tainted, methods)


def raising_cells(sources: list[str | None], exercises: set[str],
                  definition_cells: set[int],
                  stubbed_names: dict[int, set[str]] | None = None) -> set[int]:
    """Indices of the (stubbed) code cells that raise until the exercises are solved.

    `sources[k]` is None for a cell that is not code. A cell raises when:
    - it is not a definition cell of an exercise and uses an exercise's name anywhere
      (`check(rnn_forward)`, a demo calling `rnn_forward(...)`), or
    - code that runs when the cell runs uses a name that only works once an exercise is
      solved: an exercise, a function of another cell that calls one, a variable
      computed from one (`h, _ = rnn_forward(...)` then `plt.plot(h)`), or any
      variable bound after the failing statement of its cell; or
    - it raises NotImplementedError at top level (a region outside any def).
    `stubbed_names[k]` are the names cell k bound from its first top-level region on,
    in the solution: students do not have them until they solve it.
    A cell that does not parse (unusual IPython syntax) is left alone.
    """
    names = {n for n in exercises if "." not in n}
    methods = {n.rsplit(".", 1)[1] for n in exercises if "." in n}
    tainted, out = set(names), set()
    for k, source in enumerate(sources):
        tree = None if source is None else _parse(source)
        if tree is None:
            continue
        tainted |= (stubbed_names or {}).get(k, set())
        raises = k not in definition_cells and _hits(ast.walk(tree), names, methods)
        stopped = False
        for stmt in tree.body:
            is_exercise = getattr(stmt, "name", None) in names
            if stopped or (not is_exercise and _stmt_hits(stmt, tainted, methods)):
                stopped = raises = True       # the rest of the cell never runs
                tainted |= _bound_names(stmt)
            elif not is_exercise and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.ClassDef)) \
                    and _hits(ast.walk(stmt), tainted, methods):
                tainted.add(stmt.name)        # calling it later will raise
            elif not is_exercise:
                tainted -= _bound_names(stmt)  # rebound by code that works
        if raises:
            out.add(k)
    return out


def _bound_after_first_top_level_region(source: str, owners: list[str | None]) -> set[str]:
    """Names the cell binds at top level from its first region outside a def on."""
    lines = source.splitlines()
    regions = _find_regions(lines, "source")
    first = min(b for (b, _), owner in zip(regions, owners) if owner is None) + 1
    tree = _parse(source)
    if tree is None:
        return set()
    return set().union(*[_bound_names(s) for s in tree.body if s.end_lineno >= first])


def _add_tag(cell: dict, tag: str) -> None:
    tags = cell.setdefault("metadata", {}).get("tags", [])
    cell["metadata"]["tags"] = list(dict.fromkeys(list(tags) + [tag]))


# ------------------------------------------------------------------------- cleaning

def clean(nb: dict) -> dict:
    """A copy of `nb` without outputs, execution counts or metadata beyond what the book
    needs (cell: tags, mystnb; notebook: kernelspec, and language_info reduced to its
    name). Sources, tags and cell ids are left as they are."""
    nb = copy.deepcopy(nb)
    meta = nb.get("metadata", {})
    nb["metadata"] = {k: meta[k] for k in KEEP_NOTEBOOK_METADATA if k in meta}
    nb["metadata"]["language_info"] = {"name": "python"}
    for cell in nb.get("cells", []):
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items()
                            if k in KEEP_CELL_METADATA}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _dirt(nb: dict) -> list[str]:
    """What `clean` would remove from `nb`, in words."""
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    out = []
    if any(c.get("outputs") for c in cells):
        out.append("outputs")
    if any(c.get("execution_count") is not None for c in cells):
        out.append("execution counts")
    extra = {k for c in nb.get("cells", []) for k in c.get("metadata", {})} - set(KEEP_CELL_METADATA)
    extra |= set(nb.get("metadata", {})) - set(KEEP_NOTEBOOK_METADATA)
    if nb.get("metadata", {}).get("language_info", {"name": "python"}) != {"name": "python"}:
        extra.add("language_info details")
    if extra:
        out.append("metadata " + ", ".join(sorted(extra)))
    return out or ["not saved in Jupyter's file format"]


# ----------------------------------------------------------------------- the pipeline

def to_student(nb: dict, name: str | None = None) -> dict:
    """The student version of a solution notebook (a new notebook; `nb` is not changed).

    `name` (e.g. 'solutions/01_rnn_review.ipynb') is only used in error messages.
    """
    nb = copy.deepcopy(nb)
    for k, cell in enumerate(nb.get("cells", [])):
        _check_markdown(cell, _where(name, k, cell))
        if cell.get("cell_type") == "code":
            _find_regions(_source(cell).splitlines(), _where(name, k, cell))
    kept = [(k, c) for k, c in enumerate(nb.get("cells", [])) if not _is_solution_cell(c)]
    nb["cells"] = [c for _, c in kept]
    exercises = exercise_names(nb, name)
    carried = set()   # stubbed here too, so cells calling them are tagged like the rest
    for k, cell in kept:
        try:
            carried |= set((carried_from(cell) or ("", []))[1])
        except ReleaseError as e:
            raise ReleaseError(f"{_where(name, k, cell)}: {e}") from None

    sources, definition_cells, stubbed_names = [], set(), {}
    for k, (original_index, cell) in enumerate(kept):
        if cell.get("cell_type") != "code":
            sources.append(None)
            continue
        where, before = _where(name, original_index, cell), _source(cell)
        owners = _region_owners(before, where)
        if any(owners):
            definition_cells.add(k)
        if None in owners:
            stubbed_names[k] = _bound_after_first_top_level_region(before, owners)
        if carried_from(cell):
            after = carried_student_source(before, where=where)
        else:
            after = stub_source(before, where=where)
        if after != before and _parse(before) is not None and _parse(after) is None:
            raise ReleaseError(f"{where}: the cell is no longer valid Python once its "
                               f"solution is stubbed; put each BEGIN SOLUTION marker at "
                               f"the indentation of the code it replaces")
        cell["source"] = after
        sources.append(after)

    for k in raising_cells(sources, exercises | carried, definition_cells, stubbed_names):
        _add_tag(nb["cells"][k], RAISES)
        _add_tag(nb["cells"][k], BOOK_SKIP)
    chapter = _chapter_module(name)
    if chapter is not None:
        nb = add_frames(nb, chapter, exercises)
    return clean(nb)


def _chapter_module(name: str | None):
    """The module of autograder.exercises for the notebook called `name`, if any."""
    if not name:
        return None
    from autograder.exercises import chapter_named   # numpy: imported only when needed
    return chapter_named(Path(name).name)


def notebook_text(nb: dict) -> str:
    """`nb` in Jupyter's file format, byte for byte what `nbformat.write` produces:
    multi-line strings split into lines, keys sorted, indent 1, a final newline."""
    nb = copy.deepcopy(nb)

    def split(text):
        return ("".join(text) if isinstance(text, list) else text).splitlines(True)

    def split_bundle(data):
        for key, value in data.items():
            if isinstance(value, str) and (key.startswith("text/") or key in
                                           ("application/javascript", "image/svg+xml")):
                data[key] = value.splitlines(True)

    for cell in nb.get("cells", []):
        if "source" in cell:
            cell["source"] = split(cell["source"])
        for bundle in cell.get("attachments", {}).values():
            split_bundle(bundle)
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("execute_result", "display_data"):
                split_bundle(out.get("data", {}))
            elif out.get("output_type") == "stream" and isinstance(out.get("text"), str):
                out["text"] = split(out["text"])
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _fixtures_module():
    """autograder.make_fixtures if it exists and provides write_all/check_all, else None."""
    try:
        if importlib.util.find_spec("autograder.make_fixtures") is None:
            return None
    except (ImportError, ValueError):
        return None
    module = importlib.import_module("autograder.make_fixtures")
    return module if hasattr(module, "write_all") else None


def release(root: str | Path = ".", check: bool = False, fixtures: bool = True) -> list[str]:
    """Write chapters/<name> for every solutions/<name>, then the grader's fixtures.

    Returns the paths written (relative to `root`; files already up to date are not
    rewritten). A solution whose carried cells are stale is rewritten first. With
    `check=True` nothing is written and the problems are returned instead, one readable
    line each: missing, stale or orphan chapters, stale carried cells, solution notebooks
    that are not clean or cannot be released, stale fixtures.
    `fixtures=False` skips autograder.make_fixtures (for tests on a scratch project).
    """
    root = Path(root)
    solutions = sorted((root / "solutions").glob("*.ipynb"))
    problems, written = [], []
    for sol in solutions:
        rel_sol, rel_ch = f"solutions/{sol.name}", f"chapters/{sol.name}"
        try:
            nb = read_notebook(sol)
            fresh, stale = refresh_carried(nb, root, rel_sol)
            text = notebook_text(to_student(fresh, name=rel_sol))
        except ReleaseError as e:
            if not check:
                raise
            problems.append(str(e))
            continue
        if stale and check:
            problems += [f"{where}: the carried cell differs from the functions it copies: "
                         f"run `{RELEASE_CMD}`" for where in stale]
        elif stale:   # rewrite the copy in the solution itself; nothing else in it changes
            _write_text(sol, notebook_text(fresh))
            written.append(rel_sol)
            nb = fresh
        on_disk = _read_text(root / rel_ch)
        if check:
            if _read_text(sol) != notebook_text(clean(nb)):
                problems.append(f"{rel_sol} is not clean ({'; '.join(_dirt(nb))}): "
                                f"run `{CLEAN_CMD}`")
            if on_disk is None:
                problems.append(f"{rel_ch} is missing: run `{RELEASE_CMD}`")
            elif on_disk != text:
                problems.append(f"{rel_ch} is stale: run `{RELEASE_CMD}`")
        elif on_disk != text:
            _write_text(root / rel_ch, text)
            written.append(rel_ch)
    if check:
        for chapter in sorted((root / "chapters").glob("*.ipynb")):
            if not (root / "solutions" / chapter.name).exists():
                problems.append(f"chapters/{chapter.name} is an orphan: there is no "
                                f"solutions/{chapter.name} to generate it from")

    module = _fixtures_module() if fixtures else None
    if module is not None:
        if check and hasattr(module, "check_all"):
            problems += list(module.check_all(root) or [])
        elif not check:
            written += [str(p) for p in (module.write_all(root) or [])]
    return problems if check else written


def clean_solutions(root: str | Path = ".") -> list[str]:
    """Rewrite solutions/*.ipynb cleaned, in place; return the paths that changed."""
    changed = []
    for sol in sorted((Path(root) / "solutions").glob("*.ipynb")):
        text = notebook_text(clean(read_notebook(sol)))
        if _read_text(sol) != text:
            _write_text(sol, text)
            changed.append(f"solutions/{sol.name}")
    return changed


def main_release(args_list: list[str] | None = None) -> int:
    """`python -m autograder release [--check | --clean-solutions] [--root DIR]`."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder release",
        description="Generate chapters/*.ipynb (student notebooks) from solutions/*.ipynb.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; list what is out of date (exit 1 if anything is)")
    mode.add_argument("--clean-solutions", action="store_true",
                      help="first strip outputs and metadata from solutions/*.ipynb in place")
    mode.add_argument("--student-dist", metavar="DIR",
                      help="write the student edition (notebooks, self-check, README) into DIR")
    parser.add_argument("--root", default=".", help="the repository root (default: .)")
    args = parser.parse_args(args_list)
    root = Path(args.root)
    if not (root / "solutions").is_dir():
        print(f"no solutions/ folder in {root.resolve()}: run this from the repository root "
              f"or pass --root")
        return 1
    if args.student_dist:
        from autograder.student_dist import write
        stale = release(root, check=True)
        if stale:
            print("\n".join(stale) + "\nrelease first: the student edition is made from chapters/")
            return 1
        files = write(root, args.student_dist)
        print(f"wrote the student edition to {args.student_dist} ({len(files)} files)")
        return 0
    try:
        if args.check:
            problems = release(root, check=True)
            for p in problems:
                print(p)
            print("release: everything up to date" if not problems
                  else f"release: {len(problems)} problem(s)")
            return 1 if problems else 0
        written = clean_solutions(root) if args.clean_solutions else []
        written += release(root)
    except ReleaseError as e:
        print(f"release failed: {e}")
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("release: nothing to write, everything up to date")
    # What writing chapters cannot fix: orphan chapters, unclean solutions.
    leftover = release(root, check=True, fixtures=False)
    for p in leftover:
        print(p)
    return 1 if leftover else 0

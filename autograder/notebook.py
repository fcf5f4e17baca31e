"""Find the student's code in a notebook: parse it, never string-match it.

A notebook becomes a `Program`: for each code cell, its source with IPython syntax
(`%magic`, `!shell`, `?help`) turned into plain Python, and the indices of the top-level
statements the grader will run. The rule (the chapters' Setup text states it too):

    a top-level statement runs when it defines a name the graded functions need: the
    exercise's own definitions, and whatever they use, transitively (helpers, lambdas,
    constants however computed, decorators, default values, dicts of parameters, helper
    classes, imports). Loops and bare expressions (checks, plots, prints) never run, nor
    does anything the graded functions do not use (demos, training).

So a slow or broken demo cell cannot cost a student points, and the grader does not
depend on cell order beyond what a kernel run top to bottom would do (statements run in
notebook order; the last definition of a name wins). A name the graded code needs that
only a loop sets is reported. The notebook's check() builds its Program from the
kernel's cell history with the same function (`program_from_cells`), so it runs exactly
what the grader runs.
"""
from __future__ import annotations

import ast
import builtins
import json
import re
import symtable
from dataclasses import dataclass, field
from pathlib import Path

# Imports of the course's own package are skipped in the grader: the self-check is not
# available (or needed) inside the sandbox.
COURSE_PACKAGES = {"autograder"}
# Figures and displays are not graded, so their imports are not run either: pyplot takes a
# third of a second, IPython.display 40 ms (a student process may not even be able to read them).
DISPLAY_PACKAGES = {"matplotlib", "seaborn", "plotly", "IPython", "ipywidgets"}
# Outputs do not matter to grading, but they are parsed with the rest: a notebook with 60 MB
# of printed output is still graded; past this size (a few GB of memory to parse) it is not.
MAX_NOTEBOOK_BYTES = 200 * 1024 * 1024


class NotebookError(Exception):
    """The file cannot be read as a notebook. The message is for the student."""


@dataclass
class Cell:
    index: int          # position among all cells, 1-based (as a student counts them)
    source: str         # plain Python (IPython syntax already transformed)
    keep: list[int]     # indices into ast.parse(source).body of statements to run
    # what a student process runs: the source with every other statement's lines blanked
    # (line numbers unchanged, so tracebacks point at the student's lines) and `keep` for it
    run: tuple[str, list[int]] | None = None

    def runnable(self) -> tuple[int, str, list[int]]:
        return (self.index, *self.run) if self.run else (self.index, self.source, self.keep)


def _kept_lines_only(source: str, body: list[ast.stmt], keep: list[int]) -> tuple[str, list[int]] | None:
    """`source` with the lines of statements not kept blanked, and the kept statements'
    indices in it; None when a line holds both kinds (`a = 1; plot(a)`)."""
    def span(stmt):
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        return range(first, stmt.end_lineno + 1)
    kept_lines = {n for k in keep for n in span(body[k])}
    kept = set(keep)   # (a set: a 50,000-line cell took 43 s with the list)
    other_lines = {n for k, stmt in enumerate(body) if k not in kept for n in span(stmt)}
    if kept_lines & other_lines or "\r" in source:   # (a lone \r also ends a line)
        return None
    lines = source.split("\n")
    slim = "\n".join(line if n in kept_lines else "" for n, line in enumerate(lines, start=1))
    return slim, list(range(len(keep)))


@dataclass
class Program:
    cells: list[Cell] = field(default_factory=list)
    defined: dict[str, int] = field(default_factory=dict)   # name -> cell index (last wins)
    unrun: dict[str, int] = field(default_factory=dict)     # names only demo code defines
    # name -> the global names its kept definitions use (who calls whom, for feedback)
    uses: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)       # messages for the student

    def where(self, name: str) -> str | None:
        cell = self.defined.get(name, self.unrun.get(name))
        return None if cell is None else f"cell {cell}"


def read_cells(path: Path) -> list[tuple[int, str, str]]:
    """Return (index, cell_type, source) for each cell, or raise NotebookError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise NotebookError(f"could not read {path.name}: {e.strerror}") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is {len(raw) // 2**20} MB; notebooks over "
                            f"{MAX_NOTEBOOK_BYTES // 2**20} MB are not graded (clear large outputs)")
    text = raw.decode("utf-8", errors="replace")
    try:
        nb = json.loads(text)
    except RecursionError:
        raise NotebookError(f"{path.name} is not a valid notebook: its JSON is nested too "
                            "deeply to read. Re-download it from Jupyter (File > Download).") from None
    except json.JSONDecodeError as e:
        raise NotebookError(
            f"{path.name} is not a valid notebook: its JSON is broken at line {e.lineno}, "
            f"column {e.colno} ({e.msg}). Was it edited by hand or saved while truncated? "
            "Re-download it from Jupyter (File > Download).") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        hint = " (it looks like an old v3 notebook)" if isinstance(nb, dict) and "worksheets" in nb else ""
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook: "
                            f"it has no list of cells{hint}.")
    cells = []
    for i, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            src = ""
        cells.append((i, _encodable(str(cell.get("cell_type", ""))), _encodable(src)))
    return cells


def _encodable(text: str) -> str:
    """`text` with lone surrogates (valid JSON escapes such as "\\udf91" that no UTF-8
    encoder accepts) replaced by U+FFFD, as a kernel would never have run them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


# A statement this deep (operators chained, brackets nested) can crash the parser itself:
# Python 3.10's segfaults near 120,000 chained `+`. Only long cells are looked at.
MAX_NESTING = 20_000
_OPERATOR_TOKENS = re.compile(r"[-+*/%&|^~@<>(\[{]|\band\b|\bor\b|\bnot\b")


def _too_deep(source: str) -> bool:
    """Could one statement of `source` nest more than MAX_NESTING levels? A cheap upper
    bound (operators and opening brackets per statement, strings included) for cells long
    enough to hold such a statement; most cells are far shorter and skip it."""
    if len(source) < 2 * MAX_NESTING:
        return False
    count = 0
    for line in source.split("\n"):
        if line[:1] not in (" ", "\t", ")", "]", "}", "+", "-", "*", "/", "") and count:
            count = 0   # an unindented line starts a new top-level statement
        count += len(_OPERATOR_TOKENS.findall(line))
        if count > MAX_NESTING:
            return True
    return False


# Cell magics whose body is Python the kernel runs (so a student's definitions live there).
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_SHELL_ASSIGN = re.compile(r"^\s*[\w.]+\s*=\s*[!%]")
_HELP = re.compile(r"^\s*[\w.]*\?{1,2}\s*$")


def to_python(source: str) -> str:
    """Turn IPython syntax into plain Python, as the kernel would."""
    first, _, body = source.lstrip().partition("\n")
    if first.startswith("%%"):
        magic = first[2:].split()[0] if first[2:].split() else ""
        # %%time and friends run their body as Python; other cell magics (%%bash,
        # %%writefile...) are not Python at all
        return to_python(body) if magic in PYTHON_CELL_MAGICS else ""
    try:   # plain Python (most cells) is what IPython would run unchanged: skip its
        ast.parse(source)   # transformers, the slowest part of reading a notebook
        return source
    except (SyntaxError, ValueError):
        pass
    except (RecursionError, MemoryError):   # too deep for any transformer: left to the caller
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # IPython is optional for the grader: blank IPython-only lines
        return "\n".join("" if l.lstrip().startswith(("%", "!")) or _SHELL_ASSIGN.match(l)
                         or _HELP.match(l) else l for l in source.splitlines())
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a transformer choking on odd input: leave it to ast to report
        return source


def _import_names(stmt: ast.stmt) -> list[str] | None:
    """Names an import binds; None for imports the grader never runs (the course's own
    package: check() is not needed in grading)."""
    mods = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
    if any(m.split(".")[0] in COURSE_PACKAGES for m in mods):
        return None
    return [(a.asname or a.name).split(".")[0] for a in stmt.names]


def _bound_in(nodes) -> set[str]:
    """Top-level names bound by these statements (targets of assignments, `for`, `with ...
    as`, imports, def and class names), not looking inside functions or classes."""
    names = set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(_import_names(node) or ())
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            base = node.value   # params["Wx"] = ..., Model.size = ...: changes params, Model
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
        elif isinstance(node, ast.NamedExpr):
            names.add(node.target.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _uses(stmt: ast.stmt) -> set[str]:
    """The global names a statement reads when it runs or when what it defines is called:
    names read at the top level (right-hand sides, decorators, defaults, base classes) and
    the globals of every function, lambda and class body in it."""
    try:
        table = symtable.symtable(ast.unparse(stmt), "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError):   # (unparse cannot fail on parsed code)
        return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    used = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    todo = list(table.get_children())
    while todo:
        t = todo.pop()
        used.update(s.get_name() for s in t.get_symbols() if s.is_global() and s.is_referenced())
        todo.extend(t.get_children())
    return used


# Statement kinds the grader runs when they define a name the graded code needs. Loops are
# never run (a training loop could take minutes), nor bare expressions (checks, plots, prints).
RUN_KINDS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
             ast.Assign, ast.AnnAssign, ast.AugAssign, ast.If, ast.Try, ast.With)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
KIND_WORDS = {ast.For: "a `for` loop", ast.AsyncFor: "a `for` loop", ast.While: "a `while` loop",
              ast.Expr: "an expression statement", ast.Delete: "a `del`"}


@dataclass
class _Stmt:
    cell: int           # the cell's index, as the student counts (may repeat in a kernel's history)
    pos: int            # the cell's position among the parsed cells
    k: int              # index in the cell's body
    node: ast.stmt
    defines: set[str]
    runnable: bool
    uses: set[str] | None = None


def exercise_names() -> set[str]:
    """What the grader calls: every exercise of every chapter (the graded functions)."""
    from autograder.exercises import all_names   # (they import this module's package)
    return set(all_names())


def select(stmts: list[_Stmt], roots: set[str]) -> tuple[set[int], list[str]]:
    """The statements to run: those that define a name the graded code needs, where the
    graded code is `roots` and, transitively, every kept statement; and a message for each
    needed name that only a statement the grader does not run defines."""
    by_name: dict[str, list[int]] = {}
    for j, st in enumerate(stmts):
        for n in st.defines:
            by_name.setdefault(n, []).append(j)
    keep, needed, todo = set(), set(), list(roots)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for j in by_name.get(name, ()):
            st = stmts[j]
            if j in keep or not st.runnable:
                continue
            keep.add(j)
            if st.uses is None:
                st.uses = _uses(st.node)
            todo.extend(st.uses - needed)
    problems = []
    for name in sorted(needed - set(dir(builtins))):
        js = by_name.get(name, [])
        if js and not any(j in keep for j in js):
            st = stmts[js[-1]]
            kind = KIND_WORDS.get(type(st.node), f"a `{type(st.node).__name__}` statement")
            problems.append(
                f"`{name}` is used by your functions but is set only by {kind} in cell "
                f"{st.cell} (line {st.node.lineno}), which the grader and check() do not run "
                "(they run definitions, not loops or demo code): set it with a plain "
                "assignment at the top level of a cell, or inside the function")
    return keep, problems


EVERY_FUNCTION = "every function"


def program_from_cells(cells: list[tuple[int, str, str]], roots: set[str] | str | None = None) -> Program:
    """The Program of (index, cell_type, source) cells: see the module's docstring. The
    notebook's self-check builds it from the kernel's history with this same function.
    `roots`: the graded names (default: every exercise of the book), or EVERY_FUNCTION
    (every top-level function and class, and what they use)."""
    prog = Program()
    code_cells = [c for c in cells if c[1] == "code"]
    if not code_cells:
        prog.problems.append("The notebook has no code cells.")
    parsed, stmts = [], []
    for index, _, source in code_cells:
        if _too_deep(source):
            prog.problems.append(f"Cell {index} has a statement nested or chained more than "
                                 f"{MAX_NESTING:,} levels deep; the grader skipped that cell.")
            continue
        deep = (f"Cell {index} is nested too deeply or is too large to parse; the grader "
                "skipped that cell.")
        try:   # plain Python (most cells): parsed once
            py, tree = source, ast.parse(source)
        except (SyntaxError, ValueError):
            py, tree = to_python(source), None
        except (RecursionError, MemoryError):
            prog.problems.append(deep)
            continue
        try:
            tree = tree or ast.parse(py)
        except SyntaxError as e:
            where = f"line {e.lineno}" if e.lineno else "somewhere"
            prog.problems.append(f"Cell {index} has a syntax error at {where} ({e.msg}); "
                                 "the grader skipped that cell.")
            continue
        except ValueError as e:   # null bytes, say
            prog.problems.append(f"Cell {index} could not be parsed ({str(e)[:100]}); the grader "
                                 "skipped that cell.")
            continue
        except (RecursionError, MemoryError):
            prog.problems.append(deep)
            continue
        parsed.append((index, py, tree))
        for k, node in enumerate(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and _import_names(node) is None:
                continue
            star = isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
            defines = {"*"} if star else _bound_in([node])
            stmts.append(_Stmt(index, len(parsed) - 1, k, node, defines, isinstance(node, RUN_KINDS)))
    if roots is None:
        roots = exercise_names()
    elif roots == EVERY_FUNCTION:   # the instructor's notebook: its helpers are used too
        roots = exercise_names() | {st.node.name for st in stmts if isinstance(
            st.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    # a star import may define anything: it always runs
    keep, unrun_problems = select(stmts, roots | {"*"})
    prog.problems += unrun_problems
    for j, st in enumerate(stmts):
        if j in keep:
            for n in st.defines - {"*"}:
                prog.defined[n] = st.cell
                prog.uses.setdefault(n, set()).update(st.uses or ())
        else:
            for n in st.defines - {"*"}:
                prog.unrun.setdefault(n, st.cell)
    kept_by_cell: dict[int, list[int]] = {}
    for j in sorted(keep):
        kept_by_cell.setdefault(stmts[j].pos, []).append(stmts[j].k)
    for pos, (index, py, tree) in enumerate(parsed):
        keep_here = sorted(kept_by_cell.get(pos, ()))
        if keep_here:
            prog.cells.append(Cell(index, py, keep_here, _kept_lines_only(py, tree.body, keep_here)))
    return prog


def load_program(path: Path, roots: set[str] | str | None = None) -> Program:
    """Read a notebook (or a .py file) into the Program the sandbox will run."""
    path = Path(path)
    if path.suffix == ".py":
        try:
            cells = [(1, "code", path.read_text(encoding="utf-8", errors="replace"))]
        except OSError as e:
            raise NotebookError(f"could not read {path.name}: {e.strerror}") from None
    else:
        cells = read_cells(path)
    return program_from_cells(cells, roots)


def run_cells(cells: list, namespace: dict) -> list[str]:
    """Run the kept top-level statements of each cell, (index, source, keep) as
    `Cell.runnable` gives them, in `namespace`; report failures, go on. The student process
    runs a notebook with this, and check() the kernel's history."""
    problems = []
    for index, source, keep in cells:
        body = ast.parse(source).body
        for k in keep:
            stmt = body[k]
            code = compile(ast.Module(body=[stmt], type_ignores=[]), f"<cell {index}>", "exec")
            try:
                exec(code, namespace)
            except BaseException as e:  # noqa: BLE001  (SystemExit too: report, go on)
                what = ast.get_source_segment(source, stmt) or ""
                first = what.splitlines()[0][:80] if what else "a statement"
                problems.append(f"Cell {index}, line {stmt.lineno} (`{first}`) raised "
                                f"{type(e).__name__}: {str(e)[:300]}")
    return problems


def source_of(path: Path, name: str) -> str | None:
    """The source text of the last top-level definition of `name` (for feedback)."""
    try:
        prog = load_program(path, exercise_names() | {name})
    except NotebookError:
        return None
    for cell in reversed(prog.cells):
        tree = ast.parse(cell.source)
        for stmt in reversed(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name == name:
                return ast.get_source_segment(cell.source, stmt)
    return None

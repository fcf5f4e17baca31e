"""Find the student's code in a notebook: parse it, never string-match it.

A notebook becomes a `Program`: for each code cell, its source with IPython syntax
(`%magic`, `!shell`, `?help`) turned into plain Python, and the indices of the top-level
statements the grader will run. Only definitions run: imports, functions, classes and
simple constants. Top-level calls (checks, plots, demos) do not, so a slow or broken
demo cell cannot cost a student points, and the grader does not depend on cell order
beyond what a kernel run top to bottom would do (the last definition of a name wins).
"""
from __future__ import annotations

import ast
import builtins
import json
import re
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
    problems: list[str] = field(default_factory=list)       # messages for the student

    def where(self, name: str) -> str | None:
        cell = self.defined.get(name)
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


def _is_simple(node: ast.AST) -> bool:
    """A constant-like expression: literals, names, attributes, and containers of them."""
    if isinstance(node, (ast.Constant, ast.Name, ast.Attribute)):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_simple(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_simple(node.left) and _is_simple(node.right)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_simple(k) for k in node.keys) and all(map(_is_simple, node.values))
    return False


def _kept(stmt: ast.stmt) -> list[str] | None:
    """Names a top-level statement defines, or None if the grader does not run it."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        mods = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        if any(m.split(".")[0] in COURSE_PACKAGES | DISPLAY_PACKAGES for m in mods):
            return None
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.Assign) and _is_simple(stmt.value):
        if all(isinstance(t, ast.Name) for t in stmt.targets):
            return [t.id for t in stmt.targets]
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and _is_simple(stmt.value):
        if isinstance(stmt.target, ast.Name):
            return [stmt.target.id]
    return None


def load_program(path: Path) -> Program:
    """Read a notebook (or a .py file) into the Program the sandbox will run."""
    path = Path(path)
    if path.suffix == ".py":
        try:
            cells = [(1, "code", path.read_text(encoding="utf-8", errors="replace"))]
        except OSError as e:
            raise NotebookError(f"could not read {path.name}: {e.strerror}") from None
    else:
        cells = read_cells(path)
    prog = Program()
    known = set(dir(builtins))   # names a kept constant may use: builtins and earlier definitions
    code_cells = [c for c in cells if c[1] == "code"]
    if not code_cells:
        prog.problems.append("The notebook has no code cells.")
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
        keep = []
        for k, stmt in enumerate(tree.body):
            try:
                names = _kept(stmt)
            except RecursionError:   # a constant nested deeper than Python recurses: not run
                names = None
            if names is not None and isinstance(stmt, (ast.Assign, ast.AnnAssign)) and not all(
                    n.id in known for n in ast.walk(stmt.value) if isinstance(n, ast.Name)):
                names = None  # a constant built from demo values the grader does not compute
            if names is not None:
                known.update(names)
                keep.append(k)
                for n in names:
                    prog.defined[n] = index
        if keep:
            prog.cells.append(Cell(index, py, keep, _kept_lines_only(py, tree.body, keep)))
    return prog


def source_of(path: Path, name: str) -> str | None:
    """The source text of the last top-level definition of `name` (for feedback)."""
    try:
        prog = load_program(path)
    except NotebookError:
        return None
    for cell in reversed(prog.cells):
        tree = ast.parse(cell.source)
        for stmt in reversed(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name == name:
                return ast.get_source_segment(cell.source, stmt)
    return None

"""Tests of the built HTML book in _build/html (`make test` builds it first).

They check what a reader gets: equations typeset from the site's own MathJax, nothing loaded
from the network, no solution code anywhere in the site, every chapter rendered with its
stubs and figures, and a download button for each chapter's (student) notebook.

Without a built book these tests skip; with REQUIRE_BOOK=1 they fail instead.
Standard library + pytest only.
"""

from __future__ import annotations

import html
import json
import os
import posixpath
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"
TOC = ROOT / "_toc.yml"

# The vendored MathJax bundle (scripts/vendor_mathjax.sh + html_extra_path in _config.yml).
MATHJAX_IN_SITE = SITE / "mathjax" / "tex-mml-chtml.js"

# Folders that must never be built into the site.
NEVER_BUILT = ("solutions", "tests", "bench", "autograder", ".venv", ".cache", "_mathjax")

# Tags that make the browser fetch something, and the attributes holding the URL.
# (<a href> is a plain hyperlink: following it is the reader's choice, so it is not listed.)
RESOURCE_ATTRS = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "track": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "input": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
}

pytestmark = pytest.mark.book


# --------------------------------------------------------------------------------------
# Helpers


def _require_site() -> None:
    if (SITE / "index.html").is_file():
        return
    reason = (
        f"the book is not built ({SITE / 'index.html'} is missing); "
        "run `make book` (or `make test`, which builds it first)"
    )
    if os.environ.get("REQUIRE_BOOK") == "1":
        pytest.fail(reason + " [REQUIRE_BOOK=1]", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def site() -> Path:
    _require_site()
    return SITE


class _Page(HTMLParser):
    """Collects resource URLs, links, script srcs and the text of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.resources: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.scripts: list[str] = []
        self.anchors: list[dict[str, str]] = []
        self.imgs = 0
        self.text: list[str] = []
        self.inline_code: list[str] = []  # bodies of inline <script> and <style>
        self.attr_values: list[tuple[str, str, str]] = []  # every attribute, except <a>'s
        self._in_code = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag != "a":
            self.attr_values += [(tag, k, v) for k, v in a.items()]
        if tag in ("script", "style"):
            self._in_code = tag
        for attr in RESOURCE_ATTRS.get(tag, ()):
            if attr in a:
                if attr == "srcset":
                    for part in a[attr].split(","):
                        if part.strip():
                            self.resources.append((tag, attr, part.split()[0]))
                else:
                    self.resources.append((tag, attr, a[attr]))
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "img":
            self.imgs += 1
        if tag == "a":
            self.anchors.append(a)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_code = None

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in_code = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_code:
            self.inline_code.append(data)


@lru_cache(maxsize=None)
def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def _pages() -> list[Path]:
    """Every HTML page of the site (theme template fragments under _static/ excluded)."""
    return sorted(
        p for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts
    )


def _rel(p: Path) -> str:
    return p.relative_to(SITE).as_posix()


def _is_remote(url: str) -> bool:
    """True if loading `url` would leave the site: any scheme except file: and data:
    (inline content), or a protocol-relative //host/... URL."""
    url = url.strip()
    if url.startswith("//") or url.startswith("\\\\"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return scheme not in ("", "file", "data")


def _resolve(page: Path, url: str) -> Path:
    """Where a relative URL in `page` points on disk, resolved the way a browser does
    (lexically: `_static/../mathjax/x.js` is `mathjax/x.js`)."""
    path = unquote(urlsplit(url).path)
    if path.startswith("/"):
        target = posixpath.normpath(path.lstrip("/"))
    else:
        target = posixpath.normpath(posixpath.join(_rel(page.parent), path))
    return SITE / target


def _toc_files() -> tuple[str, list[str]]:
    """(root, [chapter files]) from _toc.yml, read without a YAML library."""
    root, files = None, []
    for raw in TOC.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        m = re.match(r"^root:\s*['\"]?([^'\"\s]+)", line)
        if m:
            root = m.group(1)
        m = re.match(r"^\s*-?\s*file:\s*['\"]?([^'\"\s]+)", line)
        if m:
            files.append(m.group(1))
    assert root, "_toc.yml has no root"
    return root, [re.sub(r"\.(ipynb|md)$", "", f) for f in files]


def _chapter_pages() -> list[Path]:
    _, chapters = _toc_files()
    return [SITE / f"{c}.html" for c in chapters]


# --------------------------------------------------------------------------------------
# (a) MathJax served by the site


def test_mathjax_is_vendored_in_the_site():
    """Is MathJax (script, fonts, TeX extensions, license) part of the built site?"""
    assert MATHJAX_IN_SITE.is_file(), (
        f"{_rel(MATHJAX_IN_SITE)} is missing: run scripts/vendor_mathjax.sh "
        "(make book does) and check html_extra_path in _config.yml"
    )
    fonts = SITE / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file(), f"no MathJax fonts in {_rel(fonts)}"
    ext = SITE / "mathjax" / "input" / "tex" / "extensions"
    assert ext.is_dir() and any(ext.iterdir()), f"no TeX extensions in {_rel(ext)}"
    assert (SITE / "mathjax" / "LICENSE").is_file(), "MathJax's LICENSE is not shipped with it"


def test_root_page_loads_the_local_mathjax():
    """Does the root page (intro) load MathJax from the site itself?"""
    root, _ = _toc_files()
    page = SITE / f"{root}.html"
    assert page.is_file(), f"no page for the root document {root!r}"
    srcs = [s for s in _parse(page).scripts if "mathjax" in s.lower()]
    assert srcs, f"{_rel(page)} has equations but no MathJax <script>"
    for s in srcs:
        assert not _is_remote(s), f"{_rel(page)} loads MathJax from the network: {s}"


@pytest.mark.parametrize("page", _pages() if SITE.is_dir() else [], ids=_rel)
def test_each_pages_mathjax_src_resolves_to_the_vendored_file(page):
    """Does every MathJax <script src> of this page point at the vendored file, and does
    every page with math load it?"""
    srcs = [s for s in _parse(page).scripts if "mathjax" in s.lower()]
    for s in srcs:
        assert not _is_remote(s), f"{_rel(page)} loads MathJax from the network: {s}"
        assert not s.startswith("/"), (
            f"{_rel(page)}: MathJax src {s!r} is absolute; it would break over file://"
        )
        where = os.path.relpath(_resolve(page, s), SITE).replace(os.sep, "/")
        same = where == _rel(MATHJAX_IN_SITE)
        assert same, (
            f"{_rel(page)}: MathJax src {s!r} resolves to {where}, "
            f"not {_rel(MATHJAX_IN_SITE)} (check mathjax_path in _config.yml)"
        )
        assert MATHJAX_IN_SITE.is_file(), f"{_rel(page)}: MathJax src {s!r} points at a missing file"
    raw = page.read_text(encoding="utf-8")
    if re.search(r'class="[^"]*\bmath\b', raw):
        assert srcs, f"{_rel(page)} contains math but does not load MathJax"


def test_mathjax_is_not_under_static():
    """Is MathJax kept out of _static/ (Jupyter Book would add every .js there to every page)?"""
    stray = sorted(_rel(p) for p in (SITE / "_static").rglob("*") if "mathjax" in p.name.lower())
    assert not stray, f"MathJax files under _static/: {stray[:5]}"


# --------------------------------------------------------------------------------------
# (b) Nothing from the network


@pytest.mark.parametrize("page", _pages() if SITE.is_dir() else [], ids=_rel)
def test_no_page_loads_a_remote_resource(page):
    """Does any page load a remote resource (script, stylesheet, font, image, frame)?"""
    parsed = _parse(page)
    remote = [f"<{t} {a}={u!r}>" for t, a, u in parsed.resources if _is_remote(u)]
    raw = page.read_text(encoding="utf-8")
    # Inline styles and <style> blocks can fetch fonts and images too.
    remote += [
        m.group(0)
        for m in re.finditer(r"(?:url\(\s*['\"]?|@import\s+['\"])\s*((?:[a-z][a-z0-9+.-]*:)?//[^'\")\s]+)", raw, re.I)
        if _is_remote(m.group(1))
    ]
    assert not remote, f"{_rel(page)} loads from the network: " + "; ".join(remote[:10])


_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>)]+", re.I)


@pytest.mark.parametrize("page", _pages() if SITE.is_dir() else [], ids=_rel)
def test_no_inline_script_or_attribute_names_a_remote_url(page):
    """Does any inline script, style or tag attribute (plain <a> links aside) carry a remote
    URL that the page could fetch later, such as a CDN fallback or an analytics endpoint?"""
    parsed = _parse(page)
    found = [f"<script>/<style>: {m.group(0)}" for code in parsed.inline_code for m in _URL.finditer(code)]
    for tag, attr, value in parsed.attr_values:
        if attr.startswith("xmlns"):
            continue  # XML namespace names are identifiers, never fetched
        found += [f"<{tag} {attr}=...{m.group(0)}>" for m in _URL.finditer(value)]
    assert not found, f"{_rel(page)} names remote URLs: " + "; ".join(sorted(set(found))[:10])


def test_no_stylesheet_loads_a_remote_resource():
    """Does any stylesheet in the site pull fonts, images or other CSS from the network?"""
    bad = []
    for css in sorted(SITE.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"url\(\s*['\"]?([^'\")]+)|@import\s+(?:url\()?\s*['\"]([^'\"]+)", text, re.I):
            url = m.group(1) or m.group(2)
            if _is_remote(url):
                bad.append(f"{_rel(css)}: {url}")
    assert not bad, "remote URLs in stylesheets: " + "; ".join(bad[:10])


@pytest.mark.parametrize("page", _pages() if SITE.is_dir() else [], ids=_rel)
def test_every_local_script_and_stylesheet_exists(page):
    """Does every local script, stylesheet and image this page loads exist in the site?"""
    missing = []
    for tag, attr, url in _parse(page).resources:
        if _is_remote(url) or url.startswith("data:") or not urlsplit(url).path:
            continue
        if not _resolve(page, url).exists():
            missing.append(f"<{tag} {attr}={url!r}>")
    assert not missing, f"{_rel(page)} refers to missing files: " + "; ".join(missing[:10])


def test_no_analytics_or_launch_services_are_wired_in():
    """Does any page embed analytics, comments, or Binder/Colab/JupyterHub launch buttons?"""
    needles = (
        "googletagmanager", "google-analytics", "gtag(", "plausible.io/js",
        "hypothes.is/embed", "utteranc.es/client", "launch-binder", "launch-colab",
        "launch-jupyterhub", "thebe-launch-button",
    )
    found = []
    for page in _pages():
        raw = page.read_text(encoding="utf-8").lower()
        found += [f"{_rel(page)}: {n}" for n in needles if n in raw]
    assert not found, "third-party services wired into pages: " + "; ".join(found[:10])


# --------------------------------------------------------------------------------------
# (c) No solution code in the site

_BEGIN = re.compile(r"^\s*#+\s*BEGIN\s+SOLUTION\b", re.I)
_END = re.compile(r"^\s*#+\s*END\s+SOLUTION\b", re.I)
# Lines too generic to reveal anything (and likely to occur in prose or other code).
_GENERIC = [
    re.compile(r"^return\s+\(?[\w\s,]*\)?$"),  # return h, cache / return (dx, dh_prev)
    re.compile(r"^(pass|continue|break|else:|try:|finally:)$"),
    re.compile(r"^raise\s+NotImplementedError\b"),
]
MIN_LEN = 12


def _cell_lines(nb_path: Path) -> list[list[str]]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    out = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(src)
        out.append(src.splitlines())
    return out


def _split_regions(nb_path: Path) -> tuple[list[list[str]], list[str]]:
    """(lines inside each ### BEGIN/END SOLUTION region, all lines outside regions).

    Parsed here independently of autograder.release on purpose: the test must not trust
    the code it checks."""
    regions, outside = [], []
    for lines in _cell_lines(nb_path):
        current = None
        for line in lines:
            if current is None and _BEGIN.match(line):
                current = []
            elif current is not None and _END.match(line):
                regions.append(current)
                current = None
            elif current is not None:
                current.append(line)
            else:
                outside.append(line)
        assert current is None, f"{nb_path.name}: BEGIN SOLUTION without END SOLUTION"
    return regions, outside


def _norm(s: str) -> str:
    return " ".join(s.split())


def _secret_lines(region: list[str], public: set[str]) -> list[str]:
    """The lines of a solution region that would give the solution away if published."""
    out, in_doc = [], False
    for line in region:
        s = line.strip()
        n_quotes = s.count('"""') + s.count("'''")
        if in_doc or n_quotes:
            if n_quotes % 2 == 1:
                in_doc = not in_doc
            continue  # docstring line
        if len(s) < MIN_LEN or s.startswith("#"):
            continue
        s = s.split("  #", 1)[0].rstrip()  # trailing comment
        if len(s) < MIN_LEN or any(g.match(s) for g in _GENERIC):
            continue
        if _norm(s) in public:
            continue  # also shown to students outside the solution regions
        out.append(s)
    return out


def _solution_notebooks() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb")) if SOLUTIONS.is_dir() else []


@lru_cache(maxsize=None)
def _public_lines() -> frozenset[str]:
    """Lines students legitimately see: everything outside solution regions, in every
    solution notebook (the student notebooks are made from it), plus the intro page."""
    public = set()
    for nb in _solution_notebooks():
        public.update(_norm(x) for x in _split_regions(nb)[1])
    for md in ROOT.glob("*.md"):
        public.update(_norm(x) for x in md.read_text(encoding="utf-8").splitlines())
    public.discard("")
    return frozenset(public)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


@lru_cache(maxsize=None)
def _site_texts() -> tuple[tuple[str, str], ...]:
    """(name, whitespace-normalised text) for every readable file a reader can get:
    each HTML page as text (tags stripped, entities unescaped) and raw, and every
    downloadable source (_sources/: the notebooks behind the download buttons)."""
    texts = []
    for page in _pages():
        raw = page.read_text(encoding="utf-8")
        t = _Text()
        t.feed(raw)
        t.close()
        texts.append((_rel(page) + " (text)", _norm("".join(t.parts))))
        texts.append((_rel(page) + " (raw)", _norm(html.unescape(raw))))
    for f in sorted((SITE / "_sources").rglob("*")) if (SITE / "_sources").is_dir() else []:
        if not f.is_file():
            continue
        raw = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".ipynb":
            try:
                raw = "\n".join("\n".join(cell) for cell in _cell_lines(f))
            except (ValueError, KeyError):
                pass
        texts.append((_rel(f), _norm(raw)))
    idx = SITE / "searchindex.js"
    if idx.is_file():
        texts.append(("searchindex.js", _norm(idx.read_text(encoding="utf-8"))))
    return tuple(texts)


def test_solution_regions_are_found():
    """Does every solution notebook have well-formed, non-empty solution regions?"""
    nbs = _solution_notebooks()
    if not nbs:
        pytest.skip("no solutions/*.ipynb yet")
    for nb in nbs:
        regions, _ = _split_regions(nb)
        assert regions, f"{nb.name} has no ### BEGIN SOLUTION / ### END SOLUTION region"
        assert any(_secret_lines(r, _public_lines()) for r in regions), (
            f"{nb.name}: no solution line long enough to check; the leak test would be vacuous"
        )


def test_regions_agree_with_the_release_tool():
    """Does this test see the same solution regions as autograder.release does?"""
    try:
        from autograder.release import solution_regions
    except ImportError:
        pytest.skip("autograder.release.solution_regions is not available yet")
    for nb in _solution_notebooks():
        ours = [[_norm(x) for x in r if x.strip()] for r in _split_regions(nb)[0]]
        theirs = [[_norm(x) for x in r if x.strip()] for r in solution_regions(nb)]
        assert ours == theirs, f"{nb.name}: the test and the release tool disagree on regions"


@pytest.mark.parametrize(
    "nb", _solution_notebooks() or [None], ids=lambda p: p.name if p else "no-solutions"
)
def test_no_solution_code_in_the_site(nb):
    """Does any solution line of this notebook appear anywhere in the built site?"""
    if nb is None:
        pytest.skip("no solutions/*.ipynb yet: nothing to look for")
    public = _public_lines()
    leaks = []
    for region in _split_regions(nb)[0]:
        for line in _secret_lines(region, public):
            needle = _norm(line)
            for name, text in _site_texts():
                if needle in text:
                    leaks.append(f"{name}: {line!r}")
    assert not leaks, f"solution code from {nb.name} in the site:\n  " + "\n  ".join(leaks[:20])


def test_no_solution_markers_in_the_site():
    """Does any page or downloadable notebook still carry a BEGIN/END SOLUTION marker?"""
    hits = [
        name
        for name, text in _site_texts()
        if re.search(r"#+ ?(BEGIN|END) SOLUTION", text)
    ]
    assert not hits, f"solution markers in: {hits[:10]}"


def test_no_private_folder_is_built():
    """Is anything from solutions/, tests/, bench/, autograder/ or tool folders in the site?"""
    built = [d for d in NEVER_BUILT if (SITE / d).exists() or (SITE / "_sources" / d).exists()]
    assert not built, f"folders that must never be built are in the site: {built}"
    readme = [p for p in ("README.html", "_sources/README.md") if (SITE / p).exists()]
    assert not readme, f"README.md was built into the book: {readme}"


# --------------------------------------------------------------------------------------
# (d) Chapters rendered, (e) download buttons


def test_toc_lists_at_least_one_chapter():
    """Does _toc.yml list any chapter?"""
    root, chapters = _toc_files()
    assert root == "intro"
    assert chapters, "_toc.yml lists no chapter"
    assert all(c.startswith("chapters/") for c in chapters), (
        f"only student notebooks from chapters/ may be in the book: {chapters}"
    )


@pytest.mark.parametrize("chapter", _toc_files()[1] if TOC.is_file() else [])
def test_chapter_page_shows_stubs_and_figures(chapter):
    """Does this chapter's page show its stubs (as `# YOUR CODE HERE` and `...`, never a
    failure), one exercise frame per exercise, and its figures?"""
    page = SITE / f"{chapter}.html"
    assert page.is_file(), f"{chapter} is in _toc.yml but {_rel(page)} was not built"
    parsed = _parse(page)
    text = "".join(parsed.text)
    assert "# YOUR CODE HERE" in text, (
        f"{_rel(page)} does not show any stub (# YOUR CODE HERE): "
        "is it built from the solution instead of the student notebook?"
    )
    raw = page.read_text(encoding="utf-8")
    for word in ("Traceback", "CheckFailed", "NotImplementedError", "points on the public checks</pre"):
        assert word not in raw, f"{_rel(page)} shows {word!r}: a failing cell was run or shown"
    assert parsed.imgs >= 1, f"{_rel(page)} has no <img>: its figures were not rendered"


def test_no_page_holds_a_path_of_the_build_machine():
    """Does any page name an absolute path of the machine that built it (the repository,
    the home folder, the Python running the build), as a traceback would?"""
    import sys
    paths = {str(ROOT), str(ROOT.resolve()), str(Path.home()), str(Path(sys.prefix).resolve())}
    hits = [f"{_rel(page)}: {p}" for page in _pages()
            for p in sorted(x for x in paths if len(x) > 4)
            if p in html.unescape(page.read_text(encoding="utf-8"))]
    assert not hits, "paths of the build machine in the site:\n  " + "\n  ".join(hits[:20])


@pytest.mark.parametrize("chapter", _toc_files()[1] if TOC.is_file() else [])
def test_chapter_page_has_a_notebook_download_button(chapter):
    """Does this chapter page offer its student notebook for download?"""
    page = SITE / f"{chapter}.html"
    assert page.is_file(), f"{_rel(page)} was not built"
    buttons = [
        a["href"]
        for a in _parse(page).anchors
        if "btn-download" in a.get("class", "") and urlsplit(a.get("href", "")).path.endswith(".ipynb")
    ]
    assert buttons, f"{_rel(page)} has no download button for its .ipynb"
    for href in buttons:
        assert not _is_remote(href), f"{_rel(page)}: download link leaves the site: {href}"
        target = _resolve(page, href)
        assert target.is_file(), f"{_rel(page)}: download link {href} points at a missing file"
        name = Path(chapter).name + ".ipynb"
        assert target.name == name, f"{_rel(page)}: download link {href} is not {name}"
        student = CHAPTERS / name
        if student.is_file():
            assert json.loads(target.read_text(encoding="utf-8")) == json.loads(
                student.read_text(encoding="utf-8")
            ), f"{_rel(target)} is not the student notebook chapters/{name}"


def test_every_page_has_a_download_button():
    """Does every book page (intro and chapters) have a download button?"""
    root, chapters = _toc_files()
    missing = []
    for doc in [root, *chapters]:
        page = SITE / f"{doc}.html"
        if not any("btn-download" in a.get("class", "") for a in _parse(page).anchors):
            missing.append(_rel(page))
    assert not missing, f"pages without a download button: {missing}"

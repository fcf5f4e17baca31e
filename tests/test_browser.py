"""The built book in a real browser: every page of _build/html opened in headless Chromium.

tests/test_book.py reads the built HTML as text; this module looks at what a reader's browser
actually does with it. A local `http.server` serves _build/html on a free port (in a thread),
Selenium drives Debian's /usr/bin/chromium through /usr/bin/chromedriver, and each page is
loaded ONCE (see `visit`); the tests below then check what was recorded:

every content page (all *.html except genindex/search, Sphinx's _static/_sources/_images and
the vendored mathjax/; found by walking the site, so new chapters are covered by themselves)
  - network: no request to any host but the local server, no failed request (HTTP >= 400,
    Network.loadingFailed, or never finished), read from Chrome's performance log; and no
    uncaught JavaScript error (console messages of the theme are not judged);
  - MathJax: MathJax.startup.promise resolved, every `.math` element holds an mjx-container,
    no TeX error (mjx-merror), no raw `\\(`, `\\[`, `$$` or `\\begin{` in the visible text,
    and at least one mjx-container on pages whose source has math;
  - every <img> loaded (complete and naturalWidth > 0);
  - no traceback, `CheckFailed` or `NotImplementedError` anywhere, and no check's points table
    in an output (the book runs no failing cell); no absolute path of the build machine;
  - on chapter pages, a frame for each exercise of autograder/exercises (number, name,
    points, what to implement, how to check, what a passing check prints) right above the
    code cell showing its stub as `...`;
  - no line of any solution region of solutions/*.ipynb in the visible text, in the HTML
    (live DOM and served file, HTML-unescaped, with and without tags), nor in the notebook
    behind the page's download button;
  - a full-page screenshot in _build/screenshots/<page>.png (to look at, not compared);
every page of _toc.yml (root and chapters)
  - a download button which, clicked, shows a menu offering the page's source (.ipynb for
    notebook chapters), served by the site (and, for a notebook, free of solution code);
  - previous/next links to the neighbouring pages in _toc.yml order, which exist;
  - the left sidebar is shown and links every page of _toc.yml;
  - every figure has a caption (figcaption) and every image real alt text;
redirect pages (index.html -> root) land on an existing content page.

Skips, with the reason, when selenium, /usr/bin/chromium or /usr/bin/chromedriver is missing
or the book is not built; with REQUIRE_BROWSER=1 (`make browser-test`) it fails instead.
Selenium never downloads anything: explicit driver and browser paths (Selenium Manager is
bypassed) and SE_OFFLINE=true.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
SOLUTIONS = ROOT / "solutions"
TOC = ROOT / "_toc.yml"

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WINDOW = (1280, 2000)  # wide enough for the theme's left sidebar (shown from 992 px on)

# Not content pages: Sphinx's generated index/search pages, and folders that hold no pages of
# the book: Sphinx's own (_static, _sources, _images, _downloads, ...: every top-level folder
# starting with "_") and the vendored MathJax (html_extra_path in _config.yml copies
# _mathjax/* to the site root).
NOT_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
NOT_PAGE_DIRS = {"mathjax"}

pytestmark = pytest.mark.browser


# --------------------------------------------------------------------------------------
# Prerequisites: skip (or, with REQUIRE_BROWSER=1, fail) with the reason.

def _missing() -> list[str]:
    why = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        why.append("the selenium package is not installed (.venv/bin/pip install -r "
                   "requirements.lock)")
    for exe, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(exe, os.X_OK):
            why.append(f"{exe} is missing (apt-get install -y {pkg})")
    if not SITE.is_dir() or not any(SITE.glob("*.html")):
        why.append(f"the book is not built ({SITE.relative_to(ROOT)} has no pages; run "
                   "`make book`)")
    return why


_MISSING = _missing()
if _MISSING:
    _reason = "browser test not run: " + "; ".join(_MISSING)
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(_reason + " [REQUIRE_BROWSER=1]", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

os.environ["SE_OFFLINE"] = "true"  # belt and braces: Selenium Manager may never download

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


# --------------------------------------------------------------------------------------
# Which pages

def _is_redirect(path: Path) -> bool:
    """Sphinx/Jupyter Book's index.html is only `<meta http-equiv="Refresh" ...>`."""
    head = path.read_text(encoding="utf-8", errors="replace")[:2000]
    return bool(re.search(r"http-equiv=[\"']?refresh", head, re.IGNORECASE))


def _all_pages() -> list[str]:
    pages = []
    for p in sorted(SITE.rglob("*.html")):
        rel = p.relative_to(SITE)
        if rel.parts[0].startswith("_") or rel.parts[0] in NOT_PAGE_DIRS or rel.name in NOT_PAGES:
            continue
        pages.append(rel.as_posix())
    return pages


PAGES = [p for p in _all_pages() if not _is_redirect(SITE / p)]
REDIRECTS = [p for p in _all_pages() if _is_redirect(SITE / p)]


def _toc_docs() -> list[str]:
    """The documents of _toc.yml in reading order (root first), without suffix."""
    import yaml  # PyYAML is pinned in requirements.lock (a Jupyter Book dependency)

    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                docs.append(e["file"])
            for key in ("parts", "chapters", "sections"):
                walk(e.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return [re.sub(r"\.(ipynb|md|rst)$", "", d) for d in docs]


TOC_PAGES = [f"{d}.html" for d in _toc_docs()]


def _source_of(page: str) -> Path | None:
    """The repository file a page was built from (chapters/x.html <- chapters/x.ipynb)."""
    stem = page[: -len(".html")]
    for suffix in (".ipynb", ".md", ".rst"):
        if (ROOT / (stem + suffix)).is_file():
            return ROOT / (stem + suffix)
    return None


# --------------------------------------------------------------------------------------
# Solution code: the needles

# A solution region's line is looked for in a page only if it is specific enough that finding
# it there means the solution leaked, not that the author legitimately wrote the same thing:
#  - blank lines, and lines shorter than MIN_LINE characters once stripped (`h_t = h0`,
#    `db += db_t`, `pass`): such fragments occur in prose, stubs, equations and demo code by
#    chance;
#  - a `return` of bare names (`return h, cache`, `return dx, dh_prev, dWx, dWh, db`): that
#    is the function's contract, which the stub's docstring spells out ("Returns a tuple of:
#    h, cache") and a stub may end with after `# YOUR CODE HERE`;
#  - lines that the same solution notebook also has OUTSIDE its solution regions (in a
#    docstring, in markdown, in demo code): the authors publish those themselves. This is read
#    from solutions/, never from chapters/, so a release step that leaks a line into the
#    student notebook cannot whitelist it.
# Every other line is a needle, whole (whitespace collapsed), and so is its code without a
# trailing `# comment` (a leak may have lost the comment). Everything else, e.g.
# `x, h_prev, Wx, Wh, h_next = cache` or `for t in reversed(range(T)):`, is checked.
MIN_LINE = 12
_TRIVIAL_RETURN = re.compile(r"return\s*\(?\s*[A-Za-z_]\w*(\s*,\s*[A-Za-z_]\w*)*\s*,?\s*\)?")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _code_part(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].rstrip()


def _keep(line: str) -> bool:
    return len(line) >= MIN_LINE and not _TRIVIAL_RETURN.fullmatch(line)


def _variants(line: str) -> list[str]:
    """A line, whitespace collapsed, and its code without a trailing comment."""
    return list(dict.fromkeys([_norm(line), _norm(_code_part(line))]))


@functools.lru_cache(maxsize=None)
def _needles() -> dict[str, list[str]]:
    """{solution notebook: [needle, ...]} for every solutions/*.ipynb."""
    from collections import Counter

    from autograder.release import solution_regions

    out = {}
    for nb_path in sorted(SOLUTIONS.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        everywhere, in_regions = Counter(), Counter()
        for cell in nb.get("cells", []):
            src = cell.get("source", "")
            for line in ("".join(src) if isinstance(src, list) else src).splitlines():
                everywhere.update(_variants(line))
        regions = solution_regions(nb_path)
        for region in regions:
            for line in region:
                in_regions.update(_variants(line))
        needles = []
        for region in regions:
            for line in region:
                for cand in _variants(line):
                    public = everywhere[cand] > in_regions[cand]  # also outside the regions
                    if _keep(cand) and not public and cand not in needles:
                        needles.append(cand)
        out[nb_path.relative_to(ROOT).as_posix()] = needles
    return out


def _leaks(haystacks: dict[str, str]) -> list[str]:
    found = []
    for nb, needles in _needles().items():
        for needle in needles:
            for where, text in haystacks.items():
                if needle in text:
                    found.append(f"{needle!r} (from {nb}) in {where}")
    return found


def _strip_tags(markup: str) -> str:
    """Text of HTML with every tag removed (hidden elements, scripts and comments included),
    so that syntax highlighting (`<span class="n">h</span> <span class="o">=</span> ...`)
    does not split a line of code."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


# --------------------------------------------------------------------------------------
# Server and browser

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 connections can overflow when Chromium opens a page's ~30
    # requests at once on a loaded machine: a refused connection loses a script (MathJax).
    request_queue_size = 128


@pytest.fixture(scope="module")
def server():
    httpd = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def driver():
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        drv.set_page_load_timeout(30)
        drv.set_script_timeout(90)  # MathJax 20 s + its promise 20 s + fonts 10 s + images 15 s
        # Every page fetches all its resources itself (nothing from the memory cache), so each
        # page's requests are all seen, and judged, on that page.
        drv.execute_cdp_cmd("Network.enable", {})
        drv.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        drv.get("about:blank")
        drv.get_log("performance")  # drop the start-up noise (chrome://new-tab-page etc.)
        drv.get_log("browser")
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------------------
# One visit per page

# Runs in the page once it has loaded (execute_async_script). It waits for MathJax's first
# typesetting (MathJax.startup.promise), the fonts and every image, then reports what the
# tests need. Jupyter Book 1 (myst-nb 1.4, sphinx-book-theme 1.3) markup it relies on, as
# found in _build/html/chapters/01_rnn_review.html:
#   code cell    <div class="cell docutils container">, with each tag of the cell as a class
#                `tag_<tag>`: <div class="cell tag_raises-exception docutils container">
#   its input    <div class="cell_input docutils container"> ... <pre> (highlighted spans)
#   its outputs  <div class="cell_output docutils container">, holding one element per
#                output: <div class="output stream highlight-myst-ansi notranslate"> (stdout;
#                stderr has `output stderr`), figures/images, and an error (traceback) as
#                <div class="output traceback highlight-ipythontb notranslate">
#   math         <span class="math notranslate nohighlight">\(..\)</span> inline and
#                <div class="math notranslate nohighlight">\[..\]</div> display; MathJax puts
#                an <mjx-container> inside each, and <mjx-merror> for a TeX error
#   figure       <figure id=..><img alt=.. src=..><figcaption>..</figcaption></figure>
#   prev/next    <div class="prev-next-area"><a class="left-prev" href=..>
#                <a class="right-next" href=..>
#   sidebar      <nav class="bd-docs-nav bd-links"> in <div class="bd-sidebar-primary">;
#                the current page's own entry has href="#"
#   download     <div class="dropdown dropdown-download-buttons"><button class="...
#                dropdown-toggle"> and a menu <a class="... btn-download-source-button"
#                href="../_sources/chapters/x.ipynb">.ipynb</a>
COLLECT_JS = r"""
const done = arguments[arguments.length - 1];
const sleep = ms => new Promise(r => setTimeout(r, ms));
const withTimeout = (p, ms, what) => Promise.race([p, sleep(ms).then(() => {
  throw new Error(what + ' did not finish within ' + ms + ' ms'); })]);
(async () => {
  const r = {problems: []};
  const hasMath = document.querySelectorAll('.math').length > 0;
  const mjReady = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  // MathJax's script is deferred; its configuration object may exist before the script ran.
  const t0 = Date.now();
  while (!mjReady() && (hasMath || window.MathJax) && Date.now() - t0 < 20000) await sleep(100);
  if (mjReady()) {
    try { await withTimeout(MathJax.startup.promise, 20000, 'MathJax.startup.promise');
          r.mathjax = 'typeset ' + (MathJax.version || ''); }
    catch (e) { r.mathjax = 'failed: ' + e; }
  } else {
    r.mathjax = window.MathJax ? 'MathJax object without startup.promise' : 'not loaded';
  }
  try { await withTimeout(document.fonts.ready, 10000, 'document.fonts.ready'); }
  catch (e) { r.problems.push(String(e)); }
  // every image, lazy ones included (scroll each into view), until loaded or failed
  const imgs = [...document.images];
  for (const img of imgs) if (!img.complete) img.scrollIntoView();
  try {
    await withTimeout(Promise.all(imgs.map(img => img.complete ? null : new Promise(ok => {
      img.addEventListener('load', ok); img.addEventListener('error', ok); }))),
      15000, 'loading the images');
  } catch (e) { r.problems.push(String(e)); }
  window.scrollTo(0, 0);
  // scrollIntoView above also scrolls containers sideways (seen: chapter pages screenshotted
  // with the sidebar and the left of the text cut off); put every one back
  r.scrolledSideways = [];
  for (const e of document.querySelectorAll('*')) {
    if (e.scrollLeft) { r.scrolledSideways.push(e.tagName + '.' + String(e.className).slice(0, 40)); e.scrollLeft = 0; }
  }

  const article = document.querySelector('article.bd-article') || document.querySelector('main')
                  || document.body;
  r.title = document.title;
  r.url = location.href;
  r.innerText = document.body.innerText;

  const maths = [...document.querySelectorAll('.math')];
  r.nMath = maths.length;
  r.untypeset = maths.filter(m => !m.querySelector('mjx-container'))
                     .map(m => m.textContent.trim().slice(0, 120));
  r.nMjx = document.querySelectorAll('mjx-container').length;
  r.texErrors = [...document.querySelectorAll('mjx-merror')]
                  .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 120));

  r.images = imgs.map(img => {
    const fig = img.closest('figure, div.figure');
    const cap = fig && fig.querySelector('figcaption, .caption');
    return {src: img.currentSrc || img.src, attrSrc: img.getAttribute('src'),
            alt: img.getAttribute('alt'), complete: img.complete,
            naturalWidth: img.naturalWidth, inArticle: article.contains(img),
            figure: fig ? (fig.id || '(no id)') : null,
            caption: cap ? cap.textContent.trim() : null};
  });
  r.figures = [...article.querySelectorAll('figure, div.figure')].map(f => {
    const cap = f.querySelector('figcaption, .caption');
    return {id: f.id || '(no id)', caption: cap ? cap.textContent.trim() : null,
            nImg: f.querySelectorAll('img').length};
  });

  // Tracebacks: an error output, or any output whose text is a traceback (e.g. printed to
  // stderr), and the tags of the cell it belongs to.
  const tb = [];
  for (const out of document.querySelectorAll('.output, .cell_output')) {
    const text = out.textContent;
    if (!(out.classList.contains('traceback') ||
          text.includes('Traceback (most recent call last)'))) continue;
    const cell = out.closest('div.cell');
    if (tb.some(t => t.el === out || (t.cell && t.cell === cell && t.el.contains(out)))) continue;
    tb.push({el: out, cell: cell});
  }
  r.tracebacks = tb.map(t => ({
    cellClasses: t.cell ? t.cell.className : null,
    tagged: !!(t.cell && t.cell.classList.contains('tag_raises-exception')),
    outputClasses: t.el.className,
    text: t.el.textContent.split('\n').map(s => s.trim())
            .filter(s => s && s !== 'Copy to clipboard').slice(-2).join(' | ').slice(0, 300)}));
  r.nCells = document.querySelectorAll('div.cell').length;
  r.outputText = [...document.querySelectorAll('.cell_output')].map(o => o.textContent).join('\n');
  // Exercise frames (autograder/book_view.py): title, text, and the code of the cell after it.
  r.frames = [...document.querySelectorAll('div.exercise-frame')].map(f => {
    const t = f.querySelector('.admonition-title');
    const next = f.nextElementSibling;
    const isCell = !!(next && next.matches('div.cell'));
    return {title: t ? t.textContent.trim() : null, text: f.textContent.replace(/\s+/g, ' '),
            nextIsCell: isCell,
            nextCode: isCell && next.querySelector('.cell_input pre')
                      ? next.querySelector('.cell_input pre').textContent : '',
            shown: f.getBoundingClientRect().height > 0};
  });
  r.codeLines = [...document.querySelectorAll('div.cell_input pre')]
    .flatMap(p => p.textContent.split('\n')).map(s => s.trim()).filter(s => s.length >= 12);
  r.markerLines = r.codeLines.filter(s => /^#+\s*(BEGIN|END)\s+SOLUTION\b/i.test(s));

  const link = sel => { const a = document.querySelector(sel);
    return a ? {href: a.href, attr: a.getAttribute('href'), text: a.textContent.trim()} : null; };
  r.prev = link('.prev-next-area a.left-prev');
  r.next = link('.prev-next-area a.right-next');

  const nav = document.querySelector('nav.bd-docs-nav') ||
              document.querySelector('.bd-sidebar-primary nav');
  r.sidebar = nav ? {shown: nav.getClientRects().length > 0 &&
                            getComputedStyle(nav).visibility !== 'hidden' &&
                            nav.getBoundingClientRect().width > 0,
                     links: [...nav.querySelectorAll('a[href]')].map(a => a.href)} : null;

  const dd = document.querySelector('.dropdown-download-buttons');
  r.download = dd ? [...dd.querySelectorAll('a[href]')].map(a => ({
    href: a.href, attr: a.getAttribute('href'), text: a.textContent.trim(),
    cls: a.className})) : null;
  return r;
})().then(done, e => done({error: String(e && e.stack || e)}));
"""


@dataclass(repr=False)
class Visit:
    page: str
    url: str
    data: dict
    source: str  # the live DOM as HTML (driver.page_source)
    requests: list[str] = field(default_factory=list)  # URLs requested by the page
    failures: list[str] = field(default_factory=list)  # failed requests, described
    foreign: list[str] = field(default_factory=list)  # requests to other hosts
    js_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    screenshot: Path | None = None
    page_size: tuple[int, int] = (0, 0)  # CSS px, what the screenshot should cover
    dropdown_opens: bool | None = None  # the download menu opens and shows the link
    seconds: float = 0.0

    def __repr__(self):  # keep pytest's assertion messages short
        return f"Visit({self.page!r})"


def _network(drv, base: str, has_icon_link: bool, settle: float = 5.0):
    """Read the performance log until no request is pending (at most `settle` s) and sort
    the page's requests into (all, failed, foreign)."""
    host = urlsplit(base).netloc
    sent, done_ids, failures, foreign, ws = {}, set(), [], [], []
    deadline = time.monotonic() + settle
    while True:
        for entry in drv.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            method, p = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                sent[p["requestId"]] = p["request"]["url"]
            elif method == "Network.responseReceived":
                status = p["response"].get("status", 0)
                if status >= 400:
                    failures.append((p["response"]["url"], f"HTTP {status}"))
            elif method == "Network.loadingFailed":
                done_ids.add(p["requestId"])
                failures.append((sent.get(p["requestId"], p["requestId"]),
                                 p.get("errorText", "") + (" (blocked: " + p["blockedReason"]
                                                           + ")" if p.get("blockedReason")
                                                           else "")))
            elif method == "Network.loadingFinished":
                done_ids.add(p["requestId"])
            elif method == "Network.webSocketCreated":
                ws.append(p["url"])
        pending = [u for rid, u in sent.items()
                   if rid not in done_ids and not u.startswith(("data:", "blob:"))]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    failures += [(u, "never finished") for u in pending]

    # Chrome asks every site for /favicon.ico by itself. The book declares no icon
    # (html.favicon is not set in _config.yml), so that 404 is the browser's guess at the
    # site root, not a resource of the page; it is ignored unless the page links an icon.
    favicon = urljoin(base, "/favicon.ico")
    if not has_icon_link:
        failures = [(u, why) for u, why in failures if u != favicon]

    urls = list(sent.values()) + ws
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.scheme not in ("http", "https", "ws", "wss") or parts.netloc != host:
            foreign.append(u)
    return urls, [f"{u} -> {why}" for u, why in failures], foreign


def _screenshot(drv, page: str) -> tuple[Path, tuple[int, int]]:
    """A full-page PNG through CDP (captureBeyondViewport: the whole height, not just the
    2000 px window); returns the file and the page's CSS size it should have."""
    import base64

    metrics = drv.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width, height = int(size["width"]), int(size["height"])
    # A viewport as tall as the page, then an ordinary screenshot of it. (captureBeyondViewport
    # drew the tall chapter pages with the sidebar and the left of the text cut off.)
    try:
        for _ in range(3):   # without a scroll bar the text may reflow to another height
            drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False})
            size = drv.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            if int(size["height"]) == height:
                break
            height = int(size["height"])
        width = int(size["width"])
        shot = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        drv.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    out = SCREENSHOTS / (page[: -len(".html")] + ".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return out, (width, height)


def _open_download_menu(drv) -> bool | None:
    """Click the download button; does its menu then show the source-file link?"""
    toggles = drv.find_elements(By.CSS_SELECTOR, ".dropdown-download-buttons .dropdown-toggle")
    if not toggles:
        return None
    toggles[0].click()
    try:
        WebDriverWait(drv, 5).until(lambda d: any(
            a.is_displayed() for a in d.find_elements(
                By.CSS_SELECTOR, ".dropdown-download-buttons a.btn-download-source-button")))
        return True
    except TimeoutException:
        return False


@pytest.fixture(scope="module")
def visit(driver, server):
    """visit(page) -> Visit: the page loaded once, everything recorded, cached."""
    cache: dict[str, Visit] = {}

    def _visit(page: str) -> Visit:
        if page in cache:
            return cache[page]
        if not (SITE / page).is_file():
            pytest.fail(f"{page} is in _toc.yml but was not built: rebuild the book (make book)",
                        pytrace=False)
        start = time.monotonic()
        driver.get_log("performance")  # late events of the previous page
        driver.get_log("browser")
        url = urljoin(server, page)
        driver.get(url)
        data = driver.execute_async_script(COLLECT_JS)
        assert "error" not in data, f"{page}: the in-page collector failed: {data['error']}"
        for attempt in range(2):
            if not _source_has_math(page) or data["mathjax"].startswith("typeset"):
                break
            # Seen in CI on a loaded 2-core machine (and here with two test runs at once):
            # MathJax absent from a page that has it, no request failed. Load the page again,
            # after a pause, twice at most; a page that fails three times fails the test, and
            # each failure is printed.
            print(f"{page}: MathJax {data['mathjax']!r} at {data['url']} on load "
                  f"{attempt + 1}; loading the page again")
            time.sleep(5)
            driver.get_log("performance")
            driver.get_log("browser")
            driver.get(url)
            data = driver.execute_async_script(COLLECT_JS)
            assert "error" not in data, f"{page}: the in-page collector failed: {data['error']}"
        v = Visit(page=page, url=url, data=data, source=driver.page_source)
        v.screenshot, v.page_size = _screenshot(driver, page)
        v.dropdown_opens = _open_download_menu(driver)
        has_icon = bool(re.search(r"<link[^>]+rel=[\"'][^\"']*icon", v.source, re.I))
        v.requests, v.failures, v.foreign = _network(driver, server, has_icon)
        v.js_errors = [e["message"] for e in driver.get_log("browser")
                       if e.get("level") == "SEVERE" and e.get("source") == "javascript"]
        v.seconds = time.monotonic() - start
        cache[page] = v
        return v

    return _visit


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except HTTPError as e:
        return e.code, b""


def _page_of(url: str, server: str) -> str | None:
    """The site-relative page of a same-site URL, without #fragment or ?query."""
    parts = urlsplit(url)
    if urlunsplit((parts.scheme, parts.netloc, "/", "", "")) != server:
        return None
    return parts.path.lstrip("/")


# --------------------------------------------------------------------------------------
# Sanity of the set-up itself

def test_pages_are_discovered():
    """Are the root page, the first chapter and every _toc.yml page among the pages?"""
    assert "intro.html" in PAGES and "chapters/01_rnn_review.html" in PAGES, PAGES
    missing = [p for p in TOC_PAGES if p not in PAGES]
    assert not missing, f"in _toc.yml but not built (or not found): {missing}"
    assert "index.html" in PAGES + REDIRECTS, (PAGES, REDIRECTS)


def test_solution_needles_are_not_empty():
    """Does every solution notebook leave lines to look for (else the check is vacuous)?"""
    needles = _needles()
    assert needles, f"no solutions/*.ipynb in {SOLUTIONS}"
    empty = [nb for nb, n in needles.items() if not n]
    assert not empty, f"the filter left no line to look for in {empty}"


# --------------------------------------------------------------------------------------
# Every content page

@pytest.mark.parametrize("page", PAGES)
def test_network_is_local_and_nothing_fails(visit, page):
    """Only the local server is contacted, and every request succeeds."""
    v = visit(page)
    assert v.requests, f"{page}: no request recorded (is the performance log on?)"
    problems = ([f"request to another host: {u}" for u in v.foreign]
                + [f"failed request: {f}" for f in v.failures]
                + [f"uncaught JavaScript error: {e}" for e in v.js_errors])
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


_RAW_TEX = ("\\(", "\\[", "$$", "\\begin{")
_INLINE_DOLLAR = re.compile(r"(?<![\\$])\$[^\s$][^$\n]*?(?<![\s\\])\$")


def _source_has_math(page: str) -> bool:
    """Does the page's source (markdown of .md, markdown cells of .ipynb) write math?"""
    src = _source_of(page)
    if src is None:
        return "class=\"math" in (SITE / page).read_text(encoding="utf-8")
    text = src.read_text(encoding="utf-8")
    if src.suffix == ".ipynb":
        cells = json.loads(text).get("cells", [])
        text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells if c.get("cell_type") == "markdown")
    text = re.sub(r"```.*?```|~~~.*?~~~", "", text, flags=re.S)  # code blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans
    return any(t in text for t in _RAW_TEX) or bool(_INLINE_DOLLAR.search(text))


@pytest.mark.parametrize("page", PAGES)
def test_mathjax_typesets_every_formula(visit, page):
    """MathJax finished, every formula became an mjx-container, no raw TeX is left."""
    v = visit(page)
    d = v.data
    has_math = _source_has_math(page)
    problems = []
    if (d["nMath"] or has_math) and not d["mathjax"].startswith("typeset"):
        problems.append(f"MathJax {d['mathjax']} (at {d['url']}, title {d['title']!r}, "
                        f"{d['nMath']} .math elements)")
        problems += [f"  with the failed request {f}" for f in v.failures]
    problems += [f"formula not typeset: {m!r}" for m in d["untypeset"]]
    problems += [f"TeX error: {e!r}" for e in d["texErrors"]]
    for t in _RAW_TEX:
        for m in re.finditer(re.escape(t), d["innerText"]):
            context = d["innerText"][max(0, m.start() - 40): m.end() + 40].replace("\n", " ")
            problems.append(f"raw {t!r} in the visible text: ...{context}...")
    if has_math and not (d["nMjx"] and d["nMath"]):
        problems.append(f"its source has math but the page shows {d['nMjx']} mjx-container "
                        f"({d['nMath']} .math elements)")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems[:20])


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads(visit, page):
    v = visit(page)
    broken = [i["attrSrc"] for i in v.data["images"]
              if not i["complete"] or not i["naturalWidth"]]
    assert not broken, f"{page}: images that did not load: {broken}"


# What a failing cell would leave on a page. The book runs no cell that raises until the
# exercises are solved (release tags them `skip-execution`) and shows each stub as `...`
# (autograder/book_view.py), so none of these may appear anywhere, in text or HTML.
FAILURE_WORDS = ("Traceback", "CheckFailed", "NotImplementedError")


def _machine_paths() -> list[str]:
    """Absolute paths of the machine that built the book, as a page could leak them (a
    traceback's file name, a printed path)."""
    paths = {str(ROOT), str(ROOT.resolve()), str(Path.home()), tempfile.gettempdir(),
             str(Path(sys.prefix).resolve())}
    return sorted(p for p in paths if len(p) > 4)


@pytest.mark.parametrize("page", PAGES)
def test_no_traceback_and_no_failure_shown(visit, page):
    """No traceback, no failing check and no stub's error anywhere on the page: the book
    shows the exercises, it does not run the cells that fail until they are solved."""
    v = visit(page)
    problems = [f"traceback in an output [cell: {t['cellClasses']}] {t['text']}"
                for t in v.data["tracebacks"]]
    served = (SITE / page).read_text(encoding="utf-8")
    for word in FAILURE_WORDS:
        for where, text in (("the visible text", v.data["innerText"]),
                            ("the served HTML", served)):
            if word in text:
                i = text.index(word)
                problems.append(f"{word!r} in {where}: ...{text[max(0, i - 80):i + 80]!r}...")
    if "points on the public checks" in v.data["outputText"]:
        problems.append("a check's points table in a cell output (a check was run)")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems[:10])


@pytest.mark.parametrize("page", PAGES)
def test_no_path_of_the_build_machine(visit, page):
    """No absolute path of the machine that built the book, in the text or the HTML."""
    v = visit(page)
    served = (SITE / page).read_text(encoding="utf-8")
    hits = [f"{p!r} in {where}" for p in _machine_paths()
            for where, text in (("the visible text", v.data["innerText"]),
                                ("the served HTML", html.unescape(served)))
            if p in text]
    assert not hits, f"{page}: " + "; ".join(hits)


def _exercises_of(page: str) -> list:
    """The exercises (autograder/exercises metadata) of a chapter page, [] for others."""
    from autograder.exercises import chapter_named
    chapter = chapter_named(Path(page).stem + ".ipynb") if page.startswith("chapters/") else None
    return list(chapter.EXERCISES) if chapter is not None else []


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("chapters/")])
def test_every_exercise_is_framed(visit, page):
    """Each exercise of the chapter (from its metadata) has a visible frame saying its
    number, name and points, what to implement, how to check it and what a passing
    check prints, right above the code cell with its stub (`# YOUR CODE HERE`, `...`)."""
    v = visit(page)
    exercises = _exercises_of(page)
    frames = v.data["frames"]
    assert [f["title"] for f in frames] == [
        f"Exercise {ex.number} · {ex.name} · {sum(ex.points.values()):g} points"
        for ex in exercises], f"{page}: frames {[f['title'] for f in frames]}"
    for ex, f in zip(exercises, frames):
        where = f"{page}, exercise {ex.number}"
        assert f["shown"], f"{where}: the frame is not displayed"
        for words in ("Implement", "Check it", f"check({ex.name}", "A passing check prints",
                      f"Exercise {ex.number} {ex.name}: ", "All public checks pass."):
            assert words in f["text"], f"{where}: the frame does not say {words!r}: {f['text']}"
        for name, points in ex.points.items():
            assert f"{name} {points:g}" in f["text"], f"{where}: no points for {name}"
        assert f["nextIsCell"] and "# YOUR CODE HERE" in f["nextCode"], (
            f"{where}: the frame is not right above the exercise's code cell")
        assert "..." in f["nextCode"] and f"{ex.name}" in f["nextCode"], (
            f"{where}: the code cell under the frame does not show the stub as `...`")


@pytest.mark.parametrize("page", PAGES)
def test_no_solution_code(visit, page):
    """No line of a solution region, in what is shown nor anywhere in the HTML."""
    v = visit(page)
    served = (SITE / page).read_text(encoding="utf-8")
    haystacks = {
        "the visible text": v.data["innerText"],
        "the DOM's HTML": html.unescape(v.source),
        "the DOM's text (hidden elements included)": _strip_tags(v.source),
        "the served HTML file": html.unescape(served),
        "the served file's text": _strip_tags(served),
    }
    haystacks = {k: _norm(t) for k, t in haystacks.items()}
    # Positive control: the matcher finds the page's own (stub) code, through highlighting.
    for line in v.data["codeLines"][:3]:
        for where in ("the visible text", "the DOM's text (hidden elements included)",
                      "the served file's text"):
            assert _norm(line) in haystacks[where], (
                f"{page}: the matcher cannot find the page's own code {line!r} in {where}")
    assert not v.data["markerLines"], f"{page}: solution markers in code: {v.data['markerLines']}"
    leaks = _leaks(haystacks)
    assert not leaks, f"{page} shows solution code:\n  " + "\n  ".join(leaks)


@pytest.mark.parametrize("page", PAGES)
def test_full_page_screenshot_is_saved(visit, page):
    """_build/screenshots/<page>.png covers the whole page, not just the window."""
    v = visit(page)
    png = v.screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", f"{v.screenshot} is not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == v.page_size and width >= 1000, (
        f"{v.screenshot} is {width}x{height} px, the page {v.page_size[0]}x{v.page_size[1]}")


# --------------------------------------------------------------------------------------
# Reading experience: every page of _toc.yml

@pytest.mark.parametrize("page", TOC_PAGES)
def test_download_button_offers_the_pages_source(visit, server, page):
    v = visit(page)
    src = _source_of(page)
    assert src is not None, f"no source file in the repository for {page}"
    assert v.data["download"] is not None, f"{page} has no download button"
    assert v.dropdown_opens, f"{page}: clicking the download button does not show its menu"
    want = "_sources/" + src.relative_to(ROOT).as_posix()
    links = [d for d in v.data["download"] if _page_of(d["href"], server) == want]
    assert links, (f"{page}: the download menu has no link to {want}; it has "
                   f"{[d['attr'] for d in v.data['download']]}")
    assert src.suffix in links[0]["text"], f"{page}: download link labelled {links[0]['text']!r}"
    status, body = _fetch(links[0]["href"])
    assert status == 200, f"{page}: its download {links[0]['href']} -> HTTP {status}"
    if src.suffix == ".ipynb":
        nb = json.loads(body)
        assert nb.get("nbformat") == 4 and nb.get("cells"), f"{want} is not a notebook"
        text = _norm("\n".join("".join(c["source"]) if isinstance(c["source"], list)
                               else c["source"] for c in nb["cells"]))
        leaks = _leaks({f"the downloadable {want}": text})
        assert not leaks, "solution code in the download:\n  " + "\n  ".join(leaks)


@pytest.mark.parametrize("page", TOC_PAGES)
def test_previous_and_next_links(visit, server, page):
    """prev/next go to the neighbours in _toc.yml order, and those pages exist."""
    v = visit(page)
    i = TOC_PAGES.index(page)
    for key, j in (("prev", i - 1), ("next", i + 1)):
        link = v.data[key]
        if 0 <= j < len(TOC_PAGES):
            assert link, f"{page} has no {key} link (expected {TOC_PAGES[j]})"
            assert _page_of(link["href"], server) == TOC_PAGES[j], (
                f"{page}: {key} link goes to {link['attr']}, expected {TOC_PAGES[j]}")
        if link:
            status, _ = _fetch(link["href"])
            assert status == 200, f"{page}: {key} link {link['href']} -> HTTP {status}"


@pytest.mark.parametrize("page", TOC_PAGES)
def test_sidebar_lists_every_page(visit, server, page):
    v = visit(page)
    nav = v.data["sidebar"]
    assert nav, f"{page} has no left sidebar navigation"
    assert nav["shown"], f"{page}: the sidebar navigation is hidden at {WINDOW[0]} px"
    linked = {_page_of(h, server) for h in nav["links"]}
    missing = [p for p in TOC_PAGES if p not in linked]
    assert not missing, f"{page}: the sidebar does not link {missing}"


@pytest.mark.parametrize("page", TOC_PAGES)
def test_figures_have_captions_and_alt_text(visit, page):
    """Every figure has a caption; every image has alt text and, in the text, a caption."""
    v = visit(page)
    problems = [f"figure {f['id']} has no caption" for f in v.data["figures"] if not f["caption"]]
    for img in v.data["images"]:
        alt = (img["alt"] or "").strip()
        # Sphinx/myst-nb fall back to the file name as alt text: that is no description.
        if not alt or alt == img["attrSrc"] or re.fullmatch(r"\S+\.(png|jpe?g|gif|svg|webp)",
                                                            alt, re.I):
            problems.append(f"image {img['attrSrc']} has no alt text (alt={img['alt']!r})")
        if img["inArticle"] and not img["caption"]:
            problems.append(f"image {img['attrSrc']} is not in a captioned figure")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------------------
# Redirect pages

@pytest.mark.parametrize("page", REDIRECTS)
def test_redirect_lands_on_a_page(driver, server, page):
    driver.get(urljoin(server, page))
    WebDriverWait(driver, 10).until(lambda d: _page_of(d.current_url, server) != page)
    target = _page_of(driver.current_url, server)
    assert target in PAGES, f"{page} redirects to {driver.current_url}, not a page of the book"
    if page == "index.html":
        assert target == TOC_PAGES[0], f"index.html goes to {target}, not the root {TOC_PAGES[0]}"
    driver.get_log("performance")

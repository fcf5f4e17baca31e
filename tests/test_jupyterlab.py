"""A student's exercise in JupyterLab, in a real browser: what `make lab` gives a student.

JupyterLab (pinned in requirements.lock) is started from .venv on a free local port, with no
token, on a temporary copy of chapters/ (two copies: one per student below), with its own
config, data and runtime folders (nothing read from or written to ~/.jupyter) and
`--LabApp.expose_app_in_browser=True` (window.jupyterapp: the same commands as the menus).
Debian's headless Chromium, driven by Selenium through /usr/bin/chromedriver, then does what a
student does, in chapters/01_rnn_review.ipynb:

  - opens the notebook at /lab/tree/... and waits for its kernel;
  - clicks into the stub cell of exercise 1.1 (`rnn_step_forward`), selects all of it (Ctrl+A)
    and types the student's version over it (the text goes in through Chrome's input pipeline,
    CDP Input.insertText, as a paste does; the test then reads the cell back from the front
    end's model to be sure the editor holds exactly that text);
  - runs every cell (Run > Run All Cells, `notebook:run-all-cells`); cells tagged
    `raises-exception` (the other exercises' checks, still stubs) may raise and the run goes on;
  - reads the rendered output of the check cell under the exercise, `check(rnn_step_forward)`,
    from the page, and saves a screenshot of the exercise and its check into
    _build/screenshots/jupyterlab_<student>.png (to look at, not compared).

Two students: one writes a correct `rnn_step_forward` (not the reference's code: another way to
write it) and must see "All public checks pass"; one forgets the bias and must see the check
fail, naming that mistake ("looks like: the bias b is missing"). The browser must talk to
nobody but the local server.

Skips, with the reason, when selenium, JupyterLab, /usr/bin/chromium or /usr/bin/chromedriver
is missing; with REQUIRE_BROWSER=1 it fails instead. Selenium never downloads anything
(explicit driver and browser paths, SE_OFFLINE=true); JupyterLab's news and update checks and
its extension manager's PyPI queries are switched off.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOK = "01_rnn_review.ipynb"
SCREENSHOTS = ROOT / "_build" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The same flags as tests/test_browser.py (see /work/shared/design/toolchain-notes.md).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WINDOW = (1400, 1500)

pytestmark = pytest.mark.browser


def _missing() -> list[str]:
    why = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        why.append("the selenium package is not installed (make setup)")
    if importlib.util.find_spec("jupyterlab") is None:
        why.append("JupyterLab is not installed (make setup: requirements.lock pins it)")
    for exe, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(exe, os.X_OK):
            why.append(f"{exe} is missing (apt-get install -y {pkg})")
    return why


_MISSING = _missing()
if _MISSING:
    _reason = "JupyterLab browser test not run: " + "; ".join(_MISSING)
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(_reason + " [REQUIRE_BROWSER=1]", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager may never download a driver

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


# --------------------------------------------------------------------------------------
# The two students' code for exercise 1.1. Each replaces the stub's last line,
# `raise NotImplementedError(...)`, under the docstring the released notebook gives them.

CORRECT = """\
    # one matmul on the stacked inputs: [x, h_prev] @ [[Wx], [Wh]]
    xh = np.concatenate([x, h_prev], axis=1)          # (N, D + H)
    W = np.concatenate([Wx, Wh], axis=0)              # (D + H, H)
    h_next = np.tanh(xh @ W + b[np.newaxis, :])       # (N, H)
    return h_next, (x, h_prev, Wx, Wh, h_next)
"""

MISSING_BIAS = """\
    h_next = np.tanh(x @ Wx + h_prev @ Wh)            # (N, H)
    return h_next, (x, h_prev, Wx, Wh, h_next)
"""

STUDENTS = {"correct": CORRECT, "missing_bias": MISSING_BIAS}


def _stub_source() -> str:
    nb = json.loads((CHAPTERS / NOTEBOOK).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.startswith("def rnn_step_forward("):
            return src
    raise AssertionError(f"chapters/{NOTEBOOK} has no cell defining rnn_step_forward")


def _students_source(body: str) -> str:
    stub = _stub_source()
    lines = stub.rstrip("\n").split("\n")
    assert "raise NotImplementedError" in lines[-1], f"unexpected stub ending: {lines[-1]!r}"
    return "\n".join(lines[:-1]) + "\n" + body.rstrip("\n")


# --------------------------------------------------------------------------------------
# JupyterLab and the browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on a temporary copy of chapters/ per student; yields its URL."""
    work = Path(tempfile.mkdtemp(prefix="lab-test-"))
    root = work / "root"
    for student in STUDENTS:
        shutil.copytree(CHAPTERS, root / student)
    config = work / "config"
    (config / "labconfig").mkdir(parents=True)
    # No "Would you like to get notified about official Jupyter news?" toast (it would cover
    # the output in the screenshots and, if accepted, fetch a feed from the internet).
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(work / "data"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), IPYTHONDIR=str(work / "ipython"),
               JUPYTER_PLATFORM_DIRS="1", MPLBACKEND="Agg")
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
           "--ServerApp.password=", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(work / "server.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail("JupyterLab exited at start-up:\n"
                            + (work / "server.log").read_text()[-3000:], pytrace=False)
            try:
                with urlopen(base + "/api/status", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer in 120 s:\n"
                                + (work / "server.log").read_text()[-3000:], pytrace=False)
                time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    profile = tempfile.mkdtemp(prefix="lab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        drv.set_page_load_timeout(60)
        drv.set_script_timeout(240)
        drv.execute_cdp_cmd("Network.enable", {})
        drv.get("about:blank")
        drv.get_log("performance")  # drop the browser's own start-up requests
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


# JavaScript run in the page (Selenium's execute_async_script: the last argument is the
# callback). `panel(path)` finds the open notebook's panel in JupyterLab's main area.
_PANEL = """
const panel = (path) => window.jupyterapp && Array.from(jupyterapp.shell.widgets('main'))
    .find(w => w.context && w.sessionContext && w.context.path === path);
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
const stubIndex = (p) => p.content.widgets.findIndex(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().startsWith('def rnn_step_forward('));
const checkIndex = (p) => p.content.widgets.findIndex(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().trim() === 'check(rnn_step_forward)');
"""

_WAIT_FOR_KERNEL = _PANEL + """
const [path, done] = arguments;
(async () => {
  for (let i = 0; i < 1200 && !panel(path); i++) await sleep(100);
  const p = panel(path);
  if (!p) return done({error: 'the notebook did not open'});
  await p.context.ready;
  await p.sessionContext.ready;
  for (let i = 0; i < 600 && !(p.sessionContext.session && p.sessionContext.session.kernel
       && p.sessionContext.session.kernel.connectionStatus === 'connected'); i++) await sleep(100);
  const s = stubIndex(p);
  if (s < 0) return done({error: 'no stub cell'});
  p.content.activeCellIndex = s;
  p.content.widgets[s].node.scrollIntoView({block: 'start'});
  await sleep(300);
  done({kernel: p.sessionContext.kernelDisplayName, stub: s, check: checkIndex(p),
        cells: p.content.widgets.length});
})().catch(e => done({error: String(e)}));
"""

_STUB_EDITOR = _PANEL + """
const [path, done] = arguments;
(async () => {
  // The cell's editor is created once the cell is shown (JupyterLab renders lazily): show
  // it, then wait for it (seconds under load).
  const p = panel(path);
  const cell = p.content.widgets[stubIndex(p)];
  let editor = null;
  for (let i = 0; i < 600 && !editor; i++) {
    cell.node.scrollIntoView({block: 'start'});
    if (cell.ready) await Promise.race([cell.ready, sleep(100)]);
    editor = cell.node.querySelector('.cm-content');
    if (!editor) await sleep(100);
  }
  await sleep(200);
  done(editor);
})().catch(e => done(String(e)));
"""

_SOURCE_OF_STUB = _PANEL + """
const [path, done] = arguments;
const p = panel(path);
done(p.content.widgets[stubIndex(p)].model.sharedModel.getSource());
"""

_RUN_ALL = _PANEL + """
const [path, done] = arguments;
(async () => {
  const p = panel(path);
  jupyterapp.shell.activateById(p.id);
  const t0 = performance.now();
  // The command resolves (false, since some cells raise) before the last cells have run:
  // wait until every code cell has run, or nothing changed for 5 s with the kernel idle
  // (a cell that raised without the raises-exception tag stops Run All).
  await jupyterapp.commands.execute('notebook:run-all-cells');
  const codeCells = p.content.widgets.filter(w => w.model.type === 'code');
  const executed = () => codeCells.filter(w => w.model.executionCount !== null).length;
  let last = -1, since = performance.now();
  while (performance.now() - t0 < 180000) {
    const n = executed(), idle = p.sessionContext.session.kernel.status === 'idle';
    if (n !== last || !idle) { last = n; since = performance.now(); }
    if (idle && (n === codeCells.length || performance.now() - since > 5000)) break;
    await sleep(100);
  }
  const c = p.content.widgets[checkIndex(p)];
  // JupyterLab renders cells lazily (a windowed notebook): under load the check's output
  // area can still be empty 0.5 s after scrolling to it. Wait (up to 30 s) for its text.
  let area = null;
  for (const t0r = performance.now(); performance.now() - t0r < 30000; await sleep(250)) {
    c.node.scrollIntoView({block: 'end'});
    area = c.node.querySelector('.jp-OutputArea');
    if (area && area.innerText.trim()) break;
  }
  done({seconds: (performance.now() - t0) / 1000,
        executionCount: c.model.executionCount,
        text: area ? area.innerText : '',
        outputs: c.model.outputs.toJSON(),
        executed: executed(), codeCells: codeCells.length});
})().catch(e => done({error: String(e)}));
"""

_SHOW_EXERCISE = _PANEL + """
const [path, done] = arguments;
(async () => {
  const p = panel(path);
  // The exercise from its stub cell down to its check's output: the top of the stub at the
  // top of the window when the check's output then still fits, else the output at the bottom.
  const stub = p.content.widgets[stubIndex(p)].node, check = p.content.widgets[checkIndex(p)].node;
  const span = check.getBoundingClientRect().bottom - stub.getBoundingClientRect().top;
  const view = p.content.node.getBoundingClientRect().height;
  if (span < view) stub.scrollIntoView({block: 'start'}); else check.scrollIntoView({block: 'end'});
  await sleep(700);
  done(span);
})().catch(e => done(String(e)));
"""


def _local_only(drv, base: str) -> list[str]:
    """The URLs the page asked for that are not on the local server (data:/blob: aside)."""
    host = urlsplit(base).netloc
    foreign = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        url = None
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
        elif msg.get("method") == "Network.webSocketCreated":
            url = msg["params"]["url"]
        if url is None or urlsplit(url).scheme in ("data", "blob", "about"):
            continue
        if urlsplit(url).netloc != host:
            foreign.append(url)
    return foreign


def _work_through(drv, base: str, student: str) -> dict:
    """Open the chapter in the student's folder, type the student's rnn_step_forward over
    the stub, run all cells, screenshot; return what the check cell printed and more."""
    path = f"{student}/{NOTEBOOK}"
    wanted = _students_source(STUDENTS[student])
    drv.get(f"{base}/lab/tree/{path}")
    opened = drv.execute_async_script(_WAIT_FOR_KERNEL, path)
    assert "error" not in opened, f"{path}: {opened}"

    # Type over the stub: click into its editor, select all, insert the new text.
    editor = drv.execute_async_script(_STUB_EDITOR, path)
    assert editor is not None and not isinstance(editor, str), f"{path}: no editor ({editor})"
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    drv.execute_cdp_cmd("Input.insertText", {"text": wanted})
    typed = drv.execute_async_script(_SOURCE_OF_STUB, path)

    result = drv.execute_async_script(_RUN_ALL, path)
    assert "error" not in result, f"{path}: {result}"
    drv.execute_async_script(_SHOW_EXERCISE, path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"jupyterlab_{student}.png"
    drv.save_screenshot(str(shot))
    result.update(opened=opened, typed=typed, wanted=wanted, screenshot=shot,
                  foreign=_local_only(drv, base))
    return result


@pytest.fixture(scope="module")
def runs(lab, driver):
    return {student: _work_through(driver, lab, student) for student in STUDENTS}


# --------------------------------------------------------------------------------------
# The tests

@pytest.mark.parametrize("student", list(STUDENTS))
def test_the_students_code_goes_in_through_the_editor(runs, student):
    r = runs[student]
    assert r["opened"]["kernel"].startswith("Python 3"), r["opened"]
    assert r["typed"] == r["wanted"], (
        "the stub cell does not hold what was typed:\n" + r["typed"])


@pytest.mark.parametrize("student", list(STUDENTS))
def test_run_all_runs_every_code_cell(runs, student):
    """Run All goes past the other exercises' failing checks (tagged raises-exception)."""
    r = runs[student]
    assert r["executionCount"] is not None
    assert r["executed"] == r["codeCells"], f"{r['executed']} of {r['codeCells']} code cells ran"


def test_a_correct_rnn_step_forward_passes(runs):
    r = runs["correct"]
    text = r["text"]
    assert "All public checks pass" in text, text
    assert "rnn_step_forward: 10/10 points" in text, text
    assert "FAIL" not in text and "CheckFailed" not in text and "Traceback" not in text, text
    assert all(o.get("output_type") != "error" for o in r["outputs"]), r["outputs"]


def _printed(outputs) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def test_a_missing_bias_is_named(runs):
    r = runs["missing_bias"]
    text = r["text"]
    assert "looks like: the bias b is missing" in text, text
    assert re.search(r"rnn_step_forward: \d/10 points", text), text  # fewer than 10
    # (the CheckFailed traceback under the table quotes selfcheck.py's source, whose next
    # line prints "All public checks pass": only what the check printed counts here)
    assert "All public checks pass" not in _printed(r["outputs"]), r["outputs"]
    assert any(o.get("output_type") == "error" and o.get("ename") == "CheckFailed"
               for o in r["outputs"]), r["outputs"]


@pytest.mark.parametrize("student", list(STUDENTS))
def test_screenshot_is_saved(runs, student):
    shot = runs[student]["screenshot"]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == WINDOW or (width >= 800 and height >= 600), (width, height)


@pytest.mark.parametrize("student", list(STUDENTS))
def test_the_browser_talks_only_to_the_local_server(runs, student):
    assert runs[student]["foreign"] == []



def test_make_lab_serves_the_chapters(tmp_path):
    """The README's command for students, `make lab`, starts JupyterLab on chapters/."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "MAKE", "MFLAGS"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), BROWSER="true")
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    log = open(tmp_path / "make-lab.log", "w")
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, listing = time.monotonic() + 120, None
        while listing is None:
            assert proc.poll() is None, (tmp_path / "make-lab.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "make-lab.log").read_text()[-3000:]
            try:
                # The token is printed in the log (make lab keeps JupyterLab's default security).
                token = re.search(r"\?token=(\w+)", (tmp_path / "make-lab.log").read_text())
                if token:
                    with urlopen(f"http://127.0.0.1:{port}/api/contents?token={token.group(1)}",
                                 timeout=5) as r:
                        listing = json.load(r)
            except OSError:
                pass
            time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in CHAPTERS.glob("*.ipynb")} <= names, names
        assert NOTEBOOK in names
    finally:
        os.killpg(proc.pid, 15)  # make and the JupyterLab it started (their own group)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()

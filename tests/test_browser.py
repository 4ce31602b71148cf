"""The live widgets in a real browser: JupyterLab on a loopback port, notebooks 03 and 04 over the session's
CI-mode run, driven in Chromium by Playwright. Papermill checks that cells run; this checks that the widgets
render and respond: the explorer follows split, search, query, k and model changes and delta-table clicks,
and the map's panel and explorer follow a clicked point. Any page error or "Error displaying widget" fails.

Needs the `playwright` package and Debian's Chromium at /usr/bin/chromium (Playwright's own browser download
is not used). Without them the test skips with the reason, except in CI (env CI or GCL_NB_REQUIRE_BROWSER
set, as .ci/run does), where it fails.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gcl_nb.workbench.notebooks import find_notebook_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRED = bool(os.environ.get("CI") or os.environ.get("GCL_NB_REQUIRE_BROWSER"))
RUN_TIMEOUT_MS = 240_000  # running every cell of one notebook (about 40 s on 2 idle cores)


def _require_browser():
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements.lock)")
    if not CHROMIUM.is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if REQUIRED:
            pytest.fail(reason + "; required in CI", pytrace=False)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(smoke_notebooks, tmp_path_factory):
    """(base URL, token) of a JupyterLab serving notebooks 03 and 04, parameterised for the smoke run."""
    _require_browser()
    import papermill

    run_dir = smoke_notebooks[0].parent
    root = tmp_path_factory.mktemp("lab")
    for name in ("02_gpu_training.ipynb", "03_ranking_analysis.ipynb", "04_embedding_maps.ipynb"):
        papermill.execute_notebook(
            str(find_notebook_dir() / name),
            str(root / name),
            prepare_only=True,
            parameters={"run_dir": str(run_dir), "preset": "smoke", "ci": True},
        )
    home = root / ".home"
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    notebook_settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)  # render every cell, not only those in view, so a test sees them all
    (notebook_settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "MPLBACKEND": "Agg",
    }
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--allow-root",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, lab, name: str):
    """A page with notebook `name` open in JupyterLab; page errors are collected in page.errors."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    return page


def _open_and_run(browser, lab, name: str):
    """A page with notebook `name` open and every cell run; page errors are collected in page.errors."""
    page = _open(browser, lab, name)
    # Run All before the kernel is connected would ask for a kernel: wait until the status bar says Idle.
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    n_code = page.locator(".jp-CodeCell").count()
    page.wait_for_function(
        """n => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
                  return p.length === n && p.every(t => /\\[\\d+\\]/.test(t)); }""",
        arg=n_code,
        timeout=RUN_TIMEOUT_MS,
        polling=500,
    )
    errors = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback"
    )
    assert errors.count() == 0, errors.first.inner_text()
    return page


def _check_clean(page):
    assert not page.errors, page.errors
    assert page.get_by_text("Error displaying widget").count() == 0


def _shows(page, locator, text: str, absent: str | None = None, timeout: int = 30_000) -> str:
    """Wait until `locator`'s text contains `text` (and not `absent`); returns its text."""
    page.wait_for_function(
        "([el, text, absent]) => el.innerText.includes(text) && !(absent && el.innerText.includes(absent))",
        arg=[locator.element_handle(), text, absent],
        timeout=timeout,
    )
    return locator.inner_text()


@pytest.mark.slow
def test_explorer_and_delta_table_respond_in_jupyterlab(browser, lab):
    page = _open_and_run(browser, lab, "03_ranking_analysis.ipynb")
    explorer = page.locator(".gcl-explorer").first
    explorer.scroll_into_view_if_needed()
    output = explorer.locator(".gcl-explorer-output")
    view = _shows(page, output, "first relevant at rank")  # rendered once scrolled into view
    assert "(in_domain, query" in view and "ground truth" in view
    assert explorer.locator(".gcl-explorer-split select option").all_inner_texts() == [
        "in_domain",
        "novel_query",
        "novel_document",
        "zero_shot",
    ]

    explorer.locator(".gcl-explorer-split select").select_option("zero_shot")
    _shows(page, output, "(zero_shot, query")

    queries = explorer.locator(".gcl-explorer-query select")
    explorer.locator(".gcl-explorer-order select").select_option("most hurt first")
    page.wait_for_function(  # the list now runs from the most hurt query (lowest delta) up
        """el => { const d = [...el.options].map(o => parseFloat(o.text.split('Δ')[1]));
                   return d.length > 2 && d[0] < d[d.length - 1] && d.every((v, i) => !i || d[i - 1] <= v); }""",
        arg=queries.element_handle(),
        timeout=30_000,
    )
    label = queries.locator("option").nth(2).inner_text()  # "query text (query id)  Δ delta"
    query_id = re.search(r"[(]([^()]+)[)]\s+Δ", label).group(1)
    queries.select_option(label=label)
    _shows(page, output, f"(zero_shot, query {query_id})")

    search = explorer.locator(".gcl-explorer-search input")
    search.fill("no such query text")
    _shows(page, output, "No query of zero_shot")
    search.fill("")
    _shows(page, output, "NDCG@10 = ")

    explorer.locator(".gcl-explorer-k .widget-readout").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    _shows(page, output, "NDCG@3 = ", absent="NDCG@10 = ")

    explorer.locator(".gcl-explorer-model select").select_option(["gcl-linear"])
    _shows(page, output, "gcl-linear: NDCG@3", absent="clip: NDCG@3")

    row = page.locator(".gcl-delta-table tbody tr").nth(5)
    row.scroll_into_view_if_needed()
    row.click()
    _shows(page, output, f"({row.get_attribute('data-split')}, query {row.get_attribute('data-query_id')})")
    _check_clean(page)
    page.close()


@pytest.mark.slow
def test_clicked_map_point_updates_panel_and_explorer(browser, lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = _open_and_run(browser, lab, "04_embedding_maps.ipynb")
    panel = page.locator(".gcl-map-panel").first
    panel.scroll_into_view_if_needed()
    output = page.locator(".gcl-explorer-output").first
    assert _shows(page, panel, "nearest products to").startswith("nearest products to query")
    _shows(page, output, "first relevant at rank")

    plot = page.locator(".js-plotly-plot").filter(has=page.locator(".scatterlayer")).last
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    # Queries are the large markers: click them until one other than the highlighted query is chosen.
    boxes = [
        b for b in (p.bounding_box() for p in plot.locator(".scatterlayer path.point").all()) if b and b["width"] > 10
    ]
    assert boxes, "no query marker found on the map"
    for box in boxes:
        previous = panel.inner_text()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        try:  # one click at a time: the panel answers before the next
            page.wait_for_function(
                "([el, old]) => el.innerText !== old", arg=[panel.element_handle(), previous], timeout=10_000
            )
        except PlaywrightTimeout:
            continue
        text = panel.inner_text()
        if text.startswith("nearest products to query"):
            break
    else:
        pytest.fail("clicking query markers never changed the nearest-products panel")
    query = re.match(r"nearest products to query '(.+)'", text).group(1)
    _shows(page, output, f"{query} (")  # the explorer opened the clicked query
    _check_clean(page)
    page.close()


#: LaTeX left as text where a formula should have rendered
RAW_LATEX = re.compile(r"\$\$|\\(frac|sum|mathrm|mathbf|left|right|lVert|tfrac)\b")


@pytest.mark.slow
def test_formulas_render_in_jupyterlab_and_in_the_exported_html(browser, lab, smoke_notebooks):
    """Notebook 02's formulas: typeset by JupyterLab's bundled MathJax, and exported as MathML that Chromium
    draws; no raw LaTeX left in either page."""
    page = _open(browser, lab, "02_gpu_training.ipynb")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-RenderedMarkdown mjx-container').length >= 10", timeout=60_000
    )
    page.wait_for_timeout(1000)  # MathJax typesets the rest of the cells
    text = "\n".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
    raw = RAW_LATEX.search(text)
    assert raw is None, f"JupyterLab left raw LaTeX {raw and raw.group(0)!r}"
    _check_clean(page)
    page.close()

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(smoke_notebooks[1].with_suffix(".html").as_uri())
    formulas = page.locator("math")
    assert formulas.count() >= 10
    box = page.locator('math[display="block"]').first.bounding_box()  # a displayed formula: z_ij = t <q_i, d_j>
    assert box and box["height"] > 10 and box["width"] > 50, f"MathML drawn with a size, got {box}"
    raw = RAW_LATEX.search(page.locator("body").inner_text())
    assert raw is None, f"the exported page shows raw LaTeX {raw and raw.group(0)!r}"
    page.close()


def test_a_missing_browser_skips_outside_ci_and_fails_in_ci(monkeypatch):
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(module, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="needs Chromium at /nonexistent/chromium"):
        _require_browser()
    monkeypatch.setattr(module, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        _require_browser()

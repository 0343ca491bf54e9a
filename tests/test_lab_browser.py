"""Notebook 04 as a person uses it: JupyterLab on a free local port, the notebook opened in headless Chromium
(driven by Playwright), Run All Cells from the menu, then the viewer's image slider moved with the keyboard.
The picture must change and no cell may show an error. A second case breaks the viewer (it ignores its slider)
and checks that the same test notices. JupyterLab serves a folder that holds the notebook alone (its run folders,
log and screenshots live beside it), so the file browser shows what a user would have. Screenshots are kept in the
test's temporary folder; GLI_LAB_SCREENSHOT=<png> also copies the working viewer's to that path (the README's
figures/synthetic-jupyterlab-viewer.png is taken so)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import numpy as np
import pytest
from PIL import Image

from .conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("GLI_REQUIRE_BROWSER", "") not in ("", "0")
TOKEN = "gli-browser-test"
# Flags for a machine without a display or a network (the browser must not try to reach the internet).
SCREENSHOT = os.environ.get("GLI_LAB_SCREENSHOT")
# The page as the README shows it: a small window at twice the pixel density, so that its text stays readable when
# the picture is scaled to the README's width.
VIEWPORT, SCALE = {"width": 1100, "height": 760}, 2
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _need_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the Playwright package (pip install playwright; it drives the system's Chromium, no download)"
    else:
        missing = None if CHROMIUM else "Chromium (Debian/Ubuntu: apt-get install chromium)"
    if missing:
        msg = f"the browser test needs {missing}"
        if REQUIRE_BROWSER:
            pytest.fail(msg + " (GLI_REQUIRE_BROWSER is set, so its absence is a failure)", pytrace=False)
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_copy(folder, params: dict, broken: bool):
    """Notebook 04 with the test's parameters injected (as papermill does); ``broken``: the viewer ignores its
    image slider, the fault the test must catch."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    nb = parameterize_notebook(load_notebook_node(str(REPO / "notebooks" / "04_gli_images.ipynb")), params)
    if broken:
        viewer = next(c for c in nb.cells if "widgets.interact" in c.source)
        assert "torch.tensor([image])" in viewer.source
        viewer.source = viewer.source.replace("torch.tensor([image])", "torch.tensor([0])")
    path = folder / "04_gli_images.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port serving ``tmp_path/lab`` (the notebook alone; everything else the test
    writes goes to ``tmp_path/work``); always stopped, even when the test fails."""
    _need_browser()
    port = _free_port()
    served, work = tmp_path / "lab", tmp_path / "work"
    served.mkdir()
    work.mkdir()
    log = open(work / "jupyterlab.log", "w")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={served}", "--allow-root",
                             "--ServerApp.open_browser=False", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
                             "jupyterlab.NeverCheckForUpdate"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=served)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((work / "jupyterlab.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not answer within 60 s")
        yield url, served, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def run_viewer(url: str, folder, notebook: str) -> dict:
    """Open the notebook, Run All Cells from the menu, move the viewer's image slider one step with the keyboard.
    Screenshots go to ``folder``. Returns the two viewer screenshots' mean absolute pixel difference, the error texts
    of every output and the names the file browser lists."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=SCALE)
            page.goto(f"{url}/lab/tree/{notebook}?token={TOKEN}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # every cell has run when no prompt shows [*] and the last cell has its execution count
            page.wait_for_function("() => { const p = Array.from(document.querySelectorAll('.jp-InputPrompt'));"
                                   " return p.length && !p.some(e => e.textContent.includes('*'))"
                                   " && /\\[\\d+\\]/.test(p[p.length - 1].textContent); }", timeout=600_000)
            viewer = page.locator(".widget-interact").last
            viewer.wait_for(state="attached", timeout=60_000)
            viewer.scroll_into_view_if_needed()
            images = viewer.locator(".widget-output img")
            images.first.wait_for(timeout=120_000)
            before = folder / "viewer-before.png"
            images.first.screenshot(path=str(before))
            handle = viewer.locator(".noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            after = folder / "viewer-after.png"
            diff = 0.0
            for _ in range(60):  # the viewer redraws when the kernel has perturbed the next image
                time.sleep(1)
                try:  # the viewer clears its output before it draws again: the image may be gone for a moment
                    images.first.screenshot(path=str(after), timeout=5_000)
                except PlaywrightError:
                    continue
                a, b = _pixels(before), _pixels(after)
                diff = float(np.abs(a - b).mean()) if a.shape == b.shape else 255.0
                if diff > 1.0:
                    break
            news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's first-start news question
            if news.count():
                news.first.click()
            viewer.locator(".widget-output img").first.scroll_into_view_if_needed()
            time.sleep(1)
            listed = page.locator(".jp-DirListing-itemText").all_inner_texts()
            page.screenshot(path=str(folder / "lab.png"), full_page=False)
            outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
            errors = [t for t in outputs if "Traceback" in t or "Error" in t]
            slider_value = viewer.locator(".widget-readout").first.inner_text()
        finally:
            browser.close()
    return {"pixel_difference": diff, "errors": errors, "slider_value": slider_value, "listed": listed}


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["viewer", "broken-viewer"])
def test_viewer_in_jupyterlab_changes_the_picture(lab, small_mufac, small_mucac, cache_dir, broken):
    url, served, work = lab
    params = {"BENCHMARK": "synthetic-mufac", "DATA_ROOT": str(small_mufac), "PRESET": "smoke",
              "RUN_DIR": str(work / "run"), "FIG_DIR": str(work / "figures"), "CACHE_DIR": str(cache_dir),
              "PROGRESS": False, "MULTILABEL_ROOT": str(small_mucac), "MULTILABEL_RUN_DIR": str(work / "run-mucac"),
              "N_IMAGES": 2, "INTERACTIVE": True, "DEVICE": "cpu"}
    _notebook_copy(served, params, broken)
    out = run_viewer(url, work, "04_gli_images.ipynb")
    assert out["errors"] == [], out["errors"]
    assert out["slider_value"].strip() == "1", out  # the keyboard moved the image slider from 0 to 1
    assert [t.strip() for t in out["listed"]] == ["04_gli_images.ipynb"], out["listed"]  # a clean folder
    assert sorted(p.name for p in served.iterdir() if not p.name.startswith(".")) == ["04_gli_images.ipynb"]
    if broken:
        assert out["pixel_difference"] <= 1.0, out  # a viewer that ignores its slider is caught
    else:
        assert out["pixel_difference"] > 1.0, out
        if SCREENSHOT:
            shutil.copyfile(work / "lab.png", SCREENSHOT)

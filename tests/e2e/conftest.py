"""Browser end-to-end fixtures: JupyterLab 4 / Notebook 7 driven by Playwright in Chromium.

One JupyterLab server and one headless Chromium serve the whole session; every test gets a
fresh browser context (page), writes its own notebook (one notebook per test, so no kernel is
shared), opens it in JupyterLab (``/lab/...``) or Notebook 7 (``/notebooks/...``, served by the
same server), waits until the kernel really exists, runs cells with Shift+Enter and reads
their outputs back. The kernel of each test is shut down when the test ends.

Skips (does not fail) when ``/usr/bin/chromium`` or Playwright is missing, unless the
environment variable ``CI`` is set: then a missing browser is an error.

Never run ``playwright install`` here: the browser is Debian's Chromium.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("IW_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots kept with the docs (looked at by people); failure screenshots go elsewhere.
SCREENSHOT_DIR = REPO_ROOT / "docs" / "e2e"
FAILURE_DIR = REPO_ROOT / "test-results" / "e2e"

SERVER_START_TIMEOUT_S = 90
KERNEL_READY_TIMEOUT_S = 90
DEFAULT_CELL_TIMEOUT_S = 180

# The kernel is ready when its debugger button is enabled: JupyterLab enables it only once
# a kernel exists and has answered kernel_info (the same signal galata waits for). The
# "idle" status alone shows up before the kernel exists. Notebook 7 uses the same
# notebook panel toolbar, so the button is there too (checked in the harness self-test).
KERNEL_READY_SELECTOR = ".jp-DebuggerBugButton[aria-disabled='false']"


def _ci() -> bool:
    return bool(os.environ.get("CI"))


def _missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium; never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


# --------------------------------------------------------------------------------------
# Collection: mark, skip or fail
# --------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so `-m "not e2e"` sees the mark
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _missing_requirement()
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason and not _ci():
            item.add_marker(pytest.mark.skip(reason=f"e2e: {reason}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    # Keep each phase's report on the item so fixtures can screenshot failures.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


# --------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing_requirement()
    if reason:
        if _ci():
            pytest.fail(f"e2e tests need a browser in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield b
        finally:
            b.close()


# --------------------------------------------------------------------------------------
# Jupyter server (JupyterLab 4; also serves Notebook 7 at /notebooks/...)
# --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    url: str  # http://127.0.0.1:PORT (no trailing slash)
    token: str
    root_dir: Path
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def shutdown_kernels_for(self, nb_path: str) -> None:
        """Delete the sessions (and so the kernels) of one notebook."""
        try:
            sessions = self.api("GET", "/api/sessions")
        except (urllib.error.URLError, OSError):
            return
        for s in sessions:
            if s.get("path") == nb_path:
                try:
                    self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)
                except (urllib.error.URLError, OSError):
                    pass


def _write_kernelspec(data_dir: Path) -> None:
    # The user data dir comes first on Jupyter's kernel path: this spec wins over any
    # stale one and pins the kernel to this interpreter (the venv's), whatever PATH says.
    spec_dir = data_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    if _missing_requirement() and not _ci():
        pytest.skip(f"e2e: {_missing_requirement()}")
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTERLAB_SETTINGS_DIR": base / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "lab-workspaces",
    }
    for d in (root, base / "logs", *dirs.values()):
        d.mkdir(parents=True, exist_ok=True)
    _write_kernelspec(dirs["JUPYTER_DATA_DIR"])
    # No "would you like to get news?" toast over the notebook.
    notif = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )

    env = dict(os.environ)
    env.update({k: str(v) for k, v in dirs.items()})
    # The kernel imports interp_widgets from the checkout even if it isn't installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiet debugpy warning in kernel stderr
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.pop("JUPYTER_PATH", None)

    port = _free_port()
    token = secrets.token_hex(16)
    log_path = base / "logs" / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--MappingKernelManager.default_kernel_name=python3",
    ]
    log = open(log_path, "w")
    proc = subprocess.Popen(
        cmd, cwd=str(root), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = JupyterServer(f"http://127.0.0.1:{port}", token, root, log_path, proc)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError, ValueError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status:\n{server.log_tail()}")
                time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


# --------------------------------------------------------------------------------------
# Pages and notebooks
# --------------------------------------------------------------------------------------


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.iw_console = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.iw_console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: pg.iw_console.append(f"pageerror: {e}"))
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            FAILURE_DIR.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
            try:
                pg.screenshot(path=str(FAILURE_DIR / f"{name}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - diagnostics only
                pass
            errors = [m for m in pg.iw_console if m.startswith(("error", "pageerror"))]
            if errors:
                print("browser console errors:\n" + "\n".join(errors[-30:]))
        context.close()


def code_cell(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def write_notebook(root: Path, name: str, sources: list[str]) -> str:
    """Write a notebook of code cells under the server root; return its relative path."""
    nb = {
        "cells": [code_cell(s) for s in sources],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for c in nb["cells"]:
        c["id"] = uuid.uuid4().hex[:8]
    (root / name).write_text(json.dumps(nb, indent=1))
    return name


class CellError(AssertionError):
    """A cell raised in the kernel; the message holds its traceback text."""


class NotebookUI:
    """Drive one notebook in JupyterLab 4 (``ui="lab"``) or Notebook 7 (``ui="nb7"``)."""

    def __init__(self, page: Any, server: JupyterServer, ui: str, path: str) -> None:
        if ui not in ("lab", "nb7"):
            raise ValueError(f"ui must be 'lab' or 'nb7', not {ui!r}")
        self.page = page
        self.server = server
        self.ui = ui
        self.path = path

    # -- opening -------------------------------------------------------------------
    @property
    def url(self) -> str:
        s = self.server
        if self.ui == "lab":
            # A fresh workspace per notebook, so Lab never restores other tests' tabs
            # (which would start their kernels again).
            ws = "e2e-" + uuid.uuid4().hex[:8]
            return f"{s.url}/lab/workspaces/{ws}/tree/{self.path}?reset&token={s.token}"
        return f"{s.url}/notebooks/{self.path}?token={s.token}"

    @property
    def notebook(self) -> Any:
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook").first

    def cell(self, index: int) -> Any:
        return self.notebook.locator(".jp-Cell").nth(index)

    def open(self, timeout_s: float = KERNEL_READY_TIMEOUT_S) -> "NotebookUI":
        self.page.goto(self.url, wait_until="domcontentloaded")
        self.cell(0).locator(".cm-content").wait_for(state="visible", timeout=timeout_s * 1000)
        self.wait_for_kernel(timeout_s)
        return self

    def wait_for_kernel(self, timeout_s: float = KERNEL_READY_TIMEOUT_S) -> None:
        try:
            self.page.locator(KERNEL_READY_SELECTOR).first.wait_for(
                state="attached", timeout=timeout_s * 1000
            )
        except Exception as e:  # noqa: BLE001
            raise AssertionError(
                f"kernel not ready after {timeout_s}s in {self.ui}:\n"
                f"{self.server.log_tail()}"
            ) from e

    # -- running -------------------------------------------------------------------
    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputArea-prompt").first.inner_text().strip()

    def run_cell(
        self, index: int, timeout_s: float = DEFAULT_CELL_TIMEOUT_S, check: bool = True
    ) -> str:
        """Run cell ``index`` with Shift+Enter; wait until it finished; return its output text.

        Raises CellError (with the traceback) if the cell raised and ``check`` is true.
        """
        cell = self.cell(index)
        before = self.prompt(index)

        def press() -> None:
            cell.locator(".cm-content").first.click()
            self.page.keyboard.press("Shift+Enter")

        press()
        start = time.monotonic()
        deadline = start + timeout_s
        retried = False
        pattern = re.compile(r"\[(\d+)\]")
        while True:
            now = self.prompt(index)
            if pattern.search(now) and now != before:
                break
            if not retried and now == before and "*" not in now and time.monotonic() - start > 10:
                # Nothing was queued (no "[*]" and no new number): the keypress was lost.
                # Pressing again cannot run the cell twice.
                retried = True
                press()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"cell {index} did not finish in {timeout_s}s (prompt {now!r}); "
                    f"output so far:\n{self.output_text(index)}\n"
                    f"server log:\n{self.server.log_tail(30)}"
                )
            time.sleep(0.1)
        if check:
            # JupyterLab renders error outputs (tracebacks) with the stderr MIME type.
            err = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            tb = [t for t in err.all_inner_texts() if "Traceback (most recent call last)" in t]
            if tb:
                raise CellError(f"cell {index} raised:\n" + "\n".join(tb))
        return self.output_text(index)

    def show_view(self, index: int, selector: str, timeout_s: float = 240) -> Any:
        """Run cell ``index``, which displays a view; return the view's root element
        (``selector``) once it is visible, checking that it shows no error."""
        self.run_cell(index, timeout_s=timeout_s)
        root = self.cell(index).locator(selector).first
        root.wait_for(state="visible", timeout=60_000)
        errors = root.locator(".iw-error:visible")
        assert not errors.count(), f"the view shows an error: {errors.all_inner_texts()}"
        return root

    def run_json(self, index: int, timeout_s: float = 60) -> Any:
        """Run cell ``index``, which prints one line ``JSON<json>`` (a probe of Python's
        state), and return that JSON decoded."""
        out = self.run_cell(index, timeout_s=timeout_s)
        line = next((ln for ln in out.splitlines() if ln.startswith("JSON")), None)
        if line is None:
            raise AssertionError(f"cell {index} printed no JSON line; output:\n{out}")
        return json.loads(line[4:])

    def output_text(self, index: int) -> str:
        out = self.cell(index).locator(".jp-OutputArea-output")
        return "\n".join(out.all_inner_texts()).strip()

    def screenshot(self, locator: Any, name: str) -> Path:
        """Save a screenshot of ``locator`` as docs/e2e/<name>; return the path."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / name
        locator.scroll_into_view_if_needed()
        self.page.mouse.move(0, 0)  # no hover tooltip in the picture
        self.page.wait_for_timeout(200)
        locator.screenshot(path=str(path))
        return path


@pytest.fixture
def open_notebook(
    page: Any, jupyter_server: JupyterServer, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Factory: ``open_notebook(ui, sources) -> NotebookUI``, one fresh notebook per call.

    The notebook's name comes from the test's name; its kernel is shut down afterwards.
    """
    opened: list[str] = []

    def _open(ui: str, sources: list[str], name: str | None = None) -> NotebookUI:
        stem = name or re.sub(r"[^\w-]+", "_", request.node.name).strip("_")
        fname = f"{stem}_{len(opened)}_{uuid.uuid4().hex[:6]}.ipynb"
        path = write_notebook(jupyter_server.root_dir, fname, sources)
        opened.append(path)
        return NotebookUI(page, jupyter_server, ui, path).open()

    yield _open
    for path in opened:
        jupyter_server.shutdown_kernels_for(path)


"""Browser fixtures: Debian's Chromium driven by Playwright, against a real server process.

The browser is the one `make test` installs (`apt-get install chromium`), never a
download of Playwright's own. Without it these tests fail, naming the fix, unless
``TOCSIN_BROWSER=skip`` says to skip them on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "console test password"
USERS = {"op.one": "operator", "op.two": "operator", "sup": "supervisor", "adm": "admin", "aud": "auditor"}

if os.environ.get("TOCSIN_BROWSER") == "skip":
    pytest.skip("TOCSIN_BROWSER=skip", allow_module_level=True)

try:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
except ImportError as exc:  # pragma: no cover - the dev extra installs it
    raise RuntimeError("playwright is missing: run `make test` (it installs the dev extra)") from exc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, and later tests that call ``asyncio.run`` must not find one."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make sysdeps` installs Debian's chromium (or set TOCSIN_BROWSER=skip)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one account per role (passwords: PASSWORD)."""
    srv = ServerProcess(tmp_path_factory.mktemp("console"))
    srv.start()
    with srv.client("admin") as admin:
        for username, role in USERS.items():
            r = admin.post("/api/v1/users", json={"username": username, "password": PASSWORD, "role": role})
            assert r.status_code == 201, r.text
    yield srv
    srv.stop()


class Session:
    """One person's browser: its own context (cookies), one page, and what went wrong in it."""

    def __init__(self, context: BrowserContext, base: str) -> None:
        self.context = context
        self.base = base
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def login(self, username: str, password: str = PASSWORD, *, then: str = "/console/") -> Page:
        page = self.page
        page.goto(f"{self.base}/console/login?next={then}")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#login button[type=submit]")
        page.wait_for_url(f"{self.base}{then}")
        return page

    def ready(self, path: str) -> Page:
        self.page.goto(f"{self.base}{path}")
        self.page.wait_for_selector("#app[data-ready='true']")
        return self.page


@pytest.fixture
def sessions(browser: Browser, console: ServerProcess) -> Iterator[Callable[[], Session]]:
    """Open as many people's browsers as a test needs; all are closed after it."""
    contexts: list[BrowserContext] = []

    def open_session() -> Session:
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 720}))
        return Session(contexts[-1], console.url)

    yield open_session
    for context in contexts:
        context.close()


@pytest.fixture
def session(sessions: Callable[[], Session]) -> Session:
    return sessions()


@pytest.fixture
def other_session(sessions: Callable[[], Session]) -> Session:
    return sessions()

"""Open local pages in a real headless Chromium with the network blocked (Playwright).

Reusable by any test: ``from browser import Browser`` (pytest puts ``tests/`` on the
import path, as for ``partition_cases``).

    with Browser() as browser:
        page = browser.open(path)          # blocks and records every non-local request
        assert page.blocked == [] and page.failed == [] and page.errors == []

Only ``file:``, ``data:``, ``blob:`` and ``about:`` requests go through; any other is
aborted and recorded in ``page.blocked``. ``page.failed`` records requests that failed
(a missing local file, say), ``page.errors`` console errors and uncaught page errors.
The browser is the one :func:`gridkit._chromium.find_chromium` finds (Debian's
``/usr/bin/chromium``; never downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridkit._chromium import find_chromium

CHROMIUM = find_chromium()  # the one gridkit renders boards with (GRIDKIT_CHROMIUM, /usr/bin/chromium, PATH)
ARGS = ["--no-sandbox", "--disable-gpu"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_available() -> bool:
    """True when Playwright and a Chromium binary are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM is not None


@dataclass
class Page:
    """A loaded page and what happened while it loaded."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def close(self) -> None:
        self.page.close()


class Browser:
    """One headless Chromium for many pages (start it once per test module)."""

    def __init__(self, *, width: int = 1280, height: int = 860) -> None:
        self.viewport = {"width": width, "height": height}
        self._pw: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:  # noqa: PYI034
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()

    def open(self, path: str | Path, *, wait_for: str | None = None, timeout_ms: int = 20_000,
             settle_ms: int = 300) -> Page:
        """Load a local HTML file with the network blocked; wait for ``wait_for`` (a JS expression)."""
        page = self._browser.new_page(viewport=self.viewport)
        result = Page(page)

        def route(r: Any) -> None:
            url = r.request.url
            result.requests.append(url)
            if url.startswith(LOCAL_SCHEMES):
                r.continue_()
            else:
                result.blocked.append(url)
                r.abort()

        page.route("**/*", route)
        page.on("requestfailed", lambda req: result.failed.append(f"{req.url} ({req.failure})"))
        page.on("console", lambda msg: result.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: result.errors.append(f"page error: {err}"))
        page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        if wait_for:
            page.wait_for_function(wait_for, timeout=timeout_ms)
        if settle_ms:
            page.wait_for_timeout(settle_ms)
        return result

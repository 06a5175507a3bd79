"""Headless Chromium for print output: find the browser, render HTML files to PDF and PNG.

gridkit never downloads a browser. It uses the one the system has: the executable named by
the environment variable ``GRIDKIT_CHROMIUM``, else ``/usr/bin/chromium``, else
``chromium``, ``chromium-browser`` or ``google-chrome`` on the ``PATH`` (Debian package
``chromium``; ``scripts/system-deps.sh`` installs it). Playwright drives it.

One :class:`PageRenderer` launches one browser and renders any number of pages with it.
Pages load with the network blocked: only ``file:`` and ``data:`` requests are served, and
every blocked request or console error is counted in the :class:`RenderReport`. Given a
font file, the renderer makes it visible to the browser (a fontconfig file of its own that
adds the font's folder to the system's) and sets every page in it, without synthesised
bold or italic: Chromium's PDF embeds a TrueType font as a CID font, but an OpenType-CFF
font, or a TrueType one it emboldens itself, as Type 3.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gridkit.errors import DependencyError

__all__ = ["ENV_VAR", "PageRenderer", "RenderReport", "find_chromium"]

logger = logging.getLogger(__name__)

#: Environment variable naming the Chromium executable to use.
ENV_VAR = "GRIDKIT_CHROMIUM"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CSS_DPI = 96.0
_MM_PER_INCH = 25.4


def find_chromium() -> Path | None:
    """The Chromium executable gridkit renders with, or None when the system has none.

    Raises
    ------
    DependencyError
        ``GRIDKIT_CHROMIUM`` is set but names no executable file.

    Examples
    --------
    >>> found = find_chromium()
    >>> found is None or found.is_file()
    True
    """
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        path = Path(named)
        resolved = path if path.is_file() else (Path(w) if (w := shutil.which(named)) else None)
        if resolved is None or not os.access(resolved, os.X_OK):
            raise DependencyError(f"{ENV_VAR}={named!r} is not an executable file",
                                  hint=f"point {ENV_VAR} at the chromium binary, or unset it to search the PATH")
        return resolved
    if Path("/usr/bin/chromium").is_file():
        return Path("/usr/bin/chromium")
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


@dataclass
class RenderReport:
    """What happened while a page loaded: requests refused and console errors."""

    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when the page needed nothing from the network and logged no error."""
        return not self.failed_requests and not self.console_errors


class PageRenderer:
    """One headless Chromium that renders HTML files to PDF and PNG.

    Use it as a context manager; the browser starts on entry and stops on exit.

    Parameters
    ----------
    executable
        The Chromium binary; by default :func:`find_chromium`.
    page_mm
        The page size in millimetres (width, height): the PNG is a screenshot of this area
        and the viewport is set to it.
    dpi
        Resolution of the PNG.
    font
        A font file to set every page in (its family is ``font_family``); None keeps the
        pages' own fonts.
    font_family
        The family name of ``font``.
    """

    def __init__(self, executable: Path | str | None = None, *, page_mm: tuple[float, float] = (420.0, 297.0),
                 dpi: float = 150.0, font: Path | None = None, font_family: str | None = None) -> None:
        found = Path(executable) if executable is not None else find_chromium()
        if found is None:
            raise DependencyError("no Chromium browser found",
                                  hint=f"install the Debian package chromium (scripts/system-deps.sh) or set {ENV_VAR}")
        self.executable = found
        self.page_mm = page_mm
        self.dpi = dpi
        if (font is None) != (font_family is None):
            raise ValueError("give font and font_family together")
        self.font = None if font is None else Path(font)
        self.font_family = font_family
        self._fontconfig: tempfile.TemporaryDirectory[str] | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._page: Any = None
        self._report = RenderReport()

    def __enter__(self) -> Self:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:  # pragma: no cover - a declared dependency
            raise DependencyError("playwright is not installed", hint="pip install playwright") from None
        env = self._font_env()
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(self.executable), args=["--no-sandbox", "--disable-gpu"], headless=True,
                env=env)
        except Exception as err:  # noqa: BLE001 - playwright raises its own Error types; any means no browser
            self._playwright.stop()
            self._drop_fontconfig()
            raise DependencyError(f"Chromium at {self.executable} does not start: {err}".splitlines()[0],
                                  hint=f"check the browser runs ('{self.executable} --version') or set {ENV_VAR}") from None
        width, height = (round(mm / _MM_PER_INCH * _CSS_DPI) for mm in self.page_mm)
        self._context = self._browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=self.dpi / _CSS_DPI,
            java_script_enabled=True, offline=True)
        self._context.route("**/*", _only_local)
        self._page = self._context.new_page()  # one page for every render: a new tab costs more than a load
        self._page.on("console", lambda msg: self._report.console_errors.append(msg.text) if msg.type == "error"
                      else None)
        self._page.on("pageerror", lambda exc: self._report.console_errors.append(str(exc)))
        self._page.on("requestfailed", lambda req: self._report.failed_requests.append(req.url))
        logger.info("started %s", self.executable)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        for closer in (self._context, self._browser):
            if closer is not None:
                closer.close()
        if self._playwright is not None:
            self._playwright.stop()
        self._page = self._context = self._browser = self._playwright = None
        self._drop_fontconfig()

    def _font_env(self) -> dict[str, str] | None:
        """The browser's environment: the system's, plus a fontconfig file that adds the font's folder."""
        if self.font is None:
            return None
        self._fontconfig = tempfile.TemporaryDirectory(prefix="gridkit-fonts-")
        folder = Path(self._fontconfig.name)
        system = "".join(f'  <include ignore_missing="yes">{p}</include>\n' for p in _SYSTEM_FONTCONFIG)
        (folder / "fonts.conf").write_text(
            '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f"  <dir>{_xml(str(self.font.parent.resolve()))}</dir>\n{system}</fontconfig>\n", encoding="utf-8")
        return {**os.environ, "FONTCONFIG_FILE": str(folder / "fonts.conf")}

    def _drop_fontconfig(self) -> None:
        if self._fontconfig is not None:
            self._fontconfig.cleanup()
            self._fontconfig = None

    def render(self, html: Path, *, pdf: Path | None = None, png: Path | None = None,
               selector: str | None = None) -> RenderReport:
        """Load ``html`` and write it as a PDF (print media, CSS page size) and/or a PNG.

        Parameters
        ----------
        html
            The page to load (a local file).
        pdf, png
            Where to write; None skips that format.
        selector
            The PNG is a screenshot of the first element matching this CSS selector;
            None takes the viewport.
        """
        if self._page is None:
            raise RuntimeError("use PageRenderer as a context manager")
        report = self._report = RenderReport()
        page = self._page
        page.emulate_media(media="screen")
        page.goto(Path(html).resolve().as_uri(), wait_until="load")
        if self.font_family is not None:
            family = self.font_family.replace("\\", "").replace('"', "")
            page.add_style_tag(content=f'*, *::before, *::after {{ font-family: "{family}" !important; '
                                       "font-synthesis: none !important; }")
        page.evaluate("document.fonts.ready.then(() => true)")
        if png is not None:
            target = page.locator(selector).first if selector else page
            target.screenshot(path=str(png), type="png")
        if pdf is not None:
            page.emulate_media(media="print")
            page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        if not report.clean:
            logger.warning("%s: %d blocked requests, %d console errors", html,
                           len(report.failed_requests), len(report.console_errors))
        return report


_SYSTEM_FONTCONFIG = ("/etc/fonts/fonts.conf",)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _only_local(route: Any) -> None:
    url = route.request.url
    if url.startswith(("file:", "data:", "about:")):
        route.continue_()
    else:
        route.abort("blockedbyclient")

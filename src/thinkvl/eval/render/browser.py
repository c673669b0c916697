"""Headless Chromium for the coding benchmarks: load a generated page offline, under a time limit, and read back a
full-page screenshot and its text blocks.

Generated code is untrusted. Each page gets a fresh browser context (no cookies, storage or cache shared between
items) whose every request is intercepted: the page's own files (served from memory under `ORIGIN`) are answered,
everything else is aborted, web sockets are closed, service workers are blocked, and no host name resolves. A page
that has not fired ``load`` within the time limit (an endless script, a page that keeps loading) is closed and
counts as a failed render.

Chromium is Debian's (``apt-get install chromium``) driven by Playwright's Python client (``pip install
playwright``; no ``playwright install``: the system browser is used, found as ``$THINKVL_CHROMIUM``, ``chromium`` or
``chromium-browser``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

ORIGIN = "http://page.invalid"  # .invalid never resolves (RFC 2606): only our route handler can answer it
# The flags a headless Chromium needs on a machine with no network and no display (see docs/coding_benchmarks.md).
CHROMIUM_FLAGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
VIEWPORT = (1280, 720)  # Playwright's default page size, which Design2Code's screenshots were taken at
MAX_HEIGHT = 8192  # a page taller than this is cut: enough for any benchmark page, bounded memory for a runaway one

# Every visible text node: its text, its box in page pixels and its colour (Design2Code's "text blocks").
_BLOCKS_JS = """
() => {
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TITLE", "HEAD"]);
  const root = document.body || document.documentElement;
  const blocks = [];
  if (!root) return blocks;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    const el = node.parentElement;
    if (!text || !el || skip.has(el.tagName)) continue;
    if (el.checkVisibility && !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0);
    if (!rects.length) continue;
    const x0 = Math.min(...rects.map((r) => r.left)) + window.scrollX;
    const y0 = Math.min(...rects.map((r) => r.top)) + window.scrollY;
    const x1 = Math.max(...rects.map((r) => r.right)) + window.scrollX;
    const y1 = Math.max(...rects.map((r) => r.bottom)) + window.scrollY;
    blocks.push({text, x: x0, y: y0, w: x1 - x0, h: y1 - y0, color: getComputedStyle(el).color});
  }
  return blocks;
}
"""
_RGB = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)")


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright client here; the message says what to install."""


@dataclass
class TextBlock:
    """One text segment as Design2Code defines it: lower-cased text, box (x, y, w, h) as fractions of the page's
    screenshot, and the text's colour (r, g, b)."""

    text: str
    bbox: tuple[float, float, float, float]
    color: tuple[int, int, int]


@dataclass
class Rendering:
    """What a page showed: a screenshot and its text blocks, or the reason there is none."""

    image: Image.Image | None
    blocks: list[TextBlock] = field(default_factory=list)
    error: str | None = None  # set when the page failed: time limit, crash, a script error that stopped it
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions the page threw
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.image is not None


def find_chromium() -> str:
    """The system Chromium: ``$THINKVL_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    explicit = os.environ.get("THINKVL_CHROMIUM")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise BrowserUnavailable(f"THINKVL_CHROMIUM={explicit} is not an executable")
        return explicit
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserUnavailable("no Chromium on PATH: install it (`apt-get install chromium`) or set THINKVL_CHROMIUM")


def _rgb(css: str) -> tuple[int, int, int]:
    m = _RGB.match(css or "")
    return tuple(int(round(float(v))) for v in m.groups()) if m else (0, 0, 0)  # type: ignore[return-value]


def _blocks(raw: list[dict[str, Any]], width: int, height: int) -> list[TextBlock]:
    out = []
    for b in raw:
        x, y = max(0.0, b["x"]), max(0.0, b["y"])
        w, h = min(b["w"], width - x), min(b["h"], height - y)
        if w <= 0 or h <= 0:  # off the page (or below the cut): not in the screenshot
            continue
        out.append(TextBlock(b["text"].lower(), (x / width, y / height, w / width, h / height), _rgb(b["color"])))
    return out


class Browser:
    """One headless Chromium, reused for many pages (starting it costs ~1 s); close it, or use it as a context.

    Playwright's synchronous client runs on one private thread, so a `Browser` works from any thread, inside a
    running asyncio loop, and beside another `Browser`."""

    def __init__(self, executable: str | None = None, *, timeout: float = 30.0, viewport: tuple[int, int] = VIEWPORT):
        self.executable = executable or find_chromium()
        self.timeout, self.viewport = timeout, viewport
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thinkvl-browser")
        self._pw: Any = None
        try:
            self._thread.submit(self._start).result()
        except BaseException:
            self._thread.shutdown(wait=False)
            raise

    def _start(self) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise BrowserUnavailable("the Playwright client is not installed: pip install playwright") from None
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=self.executable, headless=True, args=list(CHROMIUM_FLAGS), chromium_sandbox=False
            )
        except Exception as err:
            self._pw.stop()
            self._pw = None
            raise BrowserUnavailable(
                f"Chromium at {self.executable} did not start: {str(err).splitlines()[0]}"
            ) from None

    def _stop(self) -> None:
        if self._pw is not None:
            try:
                self._browser.close()
            finally:
                self._pw.stop()
                self._pw = None

    def close(self) -> None:
        if self._pw is not None:
            self._thread.submit(self._stop).result()
        self._thread.shutdown(wait=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, html: str, files: dict[str, bytes] | None = None, *, settle: float = 0.2) -> Rendering:
        """Load ``html`` as ``ORIGIN/index.html`` (``files`` are served beside it) and read the page back."""
        return self._thread.submit(self._render, html, files, settle).result()

    def _render(self, html: str, files: dict[str, bytes] | None, settle: float) -> Rendering:
        from playwright.sync_api import Error as PlaywrightError

        start = time.monotonic()
        served = {"/index.html": html.encode("utf-8"), **{"/" + k.lstrip("/"): v for k, v in (files or {}).items()}}
        context = self._browser.new_context(
            viewport={"width": self.viewport[0], "height": self.viewport[1]},
            service_workers="block",
            accept_downloads=False,
        )
        errors: list[str] = []
        try:
            context.route("**/*", lambda route: _answer(route, served))
            context.route_web_socket("**/*", lambda ws: ws.close())
            page = context.new_page()
            page.on("pageerror", lambda err: errors.append(str(err).splitlines()[0][:300]))
            page.set_default_timeout(self.timeout * 1000)
            try:
                page.goto(ORIGIN + "/index.html", wait_until="load", timeout=self.timeout * 1000)
                page.wait_for_timeout(settle * 1000)  # timers and fonts that run right after load
                raw = page.evaluate(_BLOCKS_JS)
                size = page.evaluate(
                    "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
                )
                width = max(1, min(int(size[0]), self.viewport[0] * 4))
                height = max(1, min(int(size[1]), MAX_HEIGHT))
                png = page.screenshot(
                    full_page=True, animations="disabled", clip={"x": 0, "y": 0, "width": width, "height": height}
                )
            except PlaywrightError as err:
                first = str(err).splitlines()[0]
                reason = "did not finish loading" if "Timeout" in first else "failed"
                return Rendering(
                    None,
                    error=f"page {reason} within {self.timeout:g} s: {first[:200]}",
                    page_errors=errors,
                    seconds=time.monotonic() - start,
                )
            image = Image.open(io.BytesIO(png)).convert("RGB")
            blocks = _blocks(raw, image.width, image.height)
            return Rendering(image, blocks, page_errors=errors, seconds=time.monotonic() - start)
        finally:
            try:
                context.close()
            except PlaywrightError:
                pass


def _answer(route: Any, served: dict[str, bytes]) -> None:
    """Serve the page's own files; abort every other request (the network is closed to generated code)."""
    url = route.request.url
    if url.startswith(ORIGIN + "/"):
        path = "/" + url[len(ORIGIN) + 1 :].split("?", 1)[0].split("#", 1)[0]
        body = served.get(path)
        if body is not None:
            kind = "text/html" if path.endswith(".html") else "text/javascript" if path.endswith(".js") else "text/css"
            route.fulfill(status=200, body=body, headers={"content-type": kind + "; charset=utf-8"})
            return
        route.fulfill(status=404, body=b"")
        return
    route.abort("blockedbyclient")

"""React components as pages, for Flame-React (Ge et al. 2025, arXiv 2503.01619; scorer released in
Flame-Code-VLM/Flame-Code-VLM ``evaluator/``).

Node compiles each component with Babel (JSX and TypeScript to CommonJS, `js/build_react.cjs`) and counts what
Flame's code score counts; the page then runs the compiled module with React 18's browser build, its ``require``
limited to ``react``, ``react-dom`` and style sheets (a component that imports anything else fails, as it would
without that package installed), and mounts the default export (or ``App``) synchronously. Babel never runs the
code; the browser does, inside `thinkvl.eval.render.browser`'s sandbox.

The Node pieces are installed by ``npm ci --prefix src/thinkvl/eval/render/js`` (scripts/setup.sh does it), or
found in ``$THINKVL_RENDER_NODE_MODULES``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from thinkvl.eval.render.browser import BrowserUnavailable

JS_DIR = Path(__file__).with_name("js")
# Flame's released scorer splits a response at these markers: "// CSS" first, then the component.
_CODE_MARKERS = re.compile(
    r"^\s*// (?:JavaScript \(JS\)|TypeScript \(TS\)|JavaScript XML \(JSX\)|TypeScript XML \(TSX\))\s*$", re.M
)
_CSS_MARKER = re.compile(r"^\s*// CSS\s*$", re.M)


@dataclass
class Compiled:
    ok: bool
    js: str | None
    error: str | None
    metrics: dict[str, int] = field(default_factory=dict)

    @property
    def behaviour(self) -> int:
        """Hooks + event attributes + state-updating callbacks: what Flame's code score looks for."""
        return sum(self.metrics.get(k, 0) for k in ("hooksUsed", "eventAttributes", "eventCallbackUpdatesCount"))


def node_modules() -> Path:
    path = Path(os.environ.get("THINKVL_RENDER_NODE_MODULES") or JS_DIR / "node_modules")
    if not (path / "@babel" / "core").is_dir() or not (path / "react" / "umd").is_dir():
        raise BrowserUnavailable(
            f"the React renderer's Node packages are not installed in {path}: run `npm ci --prefix {JS_DIR}`"
        )
    return path


def split_response(text: str) -> tuple[str, str]:
    """(css, component) of a Flame answer: ``// CSS`` … ``// JavaScript XML (JSX)`` …, or the component alone."""
    marker = _CODE_MARKERS.search(text)
    if marker:
        css, code = text[: marker.start()], text[marker.end() :]
    else:
        start = text.find("import ")
        css, code = (text[:start], text[start:]) if start > 0 else ("", text)
    return _CSS_MARKER.sub("", css, count=1).strip(), code.strip()


def compile_components(sources: list[str], *, timeout: float = 120.0) -> list[Compiled]:
    """Compile components in one Node process; a source that doesn't parse gets ``ok=False`` and Babel's reason."""
    if not sources:
        return []
    node = shutil.which("node")
    if node is None:
        raise BrowserUnavailable("Node.js is not installed (apt-get install nodejs)")
    env = {**os.environ, "NODE_PATH": str(node_modules())}
    try:
        proc = subprocess.run(
            [node, str(JS_DIR / "build_react.cjs")],
            input=json.dumps(sources),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=JS_DIR,
        )
    except subprocess.TimeoutExpired:
        return [Compiled(False, None, f"Babel did not finish within {timeout:g} s") for _ in sources]
    if proc.returncode != 0:
        raise RuntimeError(f"build_react.cjs failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    out = []
    for r in json.loads(proc.stdout):
        error = r["error"].replace(str(JS_DIR / "component.tsx") + ": ", "") if r["error"] else None
        out.append(Compiled(bool(r["ok"]), r["js"], error, dict(r["metrics"])))
    return out


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style>
<script src="react.js"></script><script src="react-dom.js"></script></head>
<body><div id="root"></div>
<script>
(function () {{
  var modules = {{ "react": window.React, "react-dom": window.ReactDOM, "react-dom/client": window.ReactDOM }};
  function require(name) {{
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    if (/\\.(css|scss|sass|less)$/.test(name)) return {{}};
    throw new Error("cannot import " + name + " (only react, react-dom and style sheets are available)");
  }}
  var module = {{ exports: {{}} }};
  (new Function("require", "module", "exports", "React", {code}))(require, module, module.exports, window.React);
  var C = module.exports.default || module.exports.App || module.exports;
  if (typeof C !== "function" && typeof C !== "object") throw new Error("the component exports nothing to render");
  var root = ReactDOM.createRoot(document.getElementById("root"));
  ReactDOM.flushSync(function () {{ root.render(React.createElement(C)); }});
}})();
</script></body></html>
"""


def page_files() -> dict[str, bytes]:
    """React's and ReactDOM's browser builds, served beside each page (read once per process)."""
    global _FILES
    if _FILES is None:
        mods = node_modules()
        _FILES = {
            "react.js": (mods / "react/umd/react.production.min.js").read_bytes(),
            "react-dom.js": (mods / "react-dom/umd/react-dom.production.min.js").read_bytes(),
        }
    return _FILES


_FILES: dict[str, bytes] | None = None


def component_page(compiled_js: str, css: str) -> str:
    """The page that mounts one compiled component with its style sheet."""
    css = css.replace("</style", "<\\/style")
    # JSON-quoted, with "</" broken, so that no code can close the <script> element it is in.
    code = json.dumps(compiled_js).replace("</", "<\\/")
    return _PAGE.format(css=css, code=code)

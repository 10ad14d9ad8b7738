"""The web client must parse as ECMAScript 2019, the newest syntax Chromium 79 runs.

acorn (run by node) is the parser: anything newer, such as ``a?.b`` or ``a ?? b``,
is a syntax error at ``ecmaVersion: 2019`` and fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "tuner" / "web" / "static"
ACORN = ROOT / ".ci" / "node_modules_root" / "node_modules" / "acorn"
INSTALL_HINT = "run .ci/install-web-test-deps.sh"

# Reads the source on stdin and prints null, or the parse error as JSON.
_CHECKER = """
const acorn = require(process.env.ACORN_PATH);
let src = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { src += chunk; });
process.stdin.on("end", () => {
  try {
    acorn.parse(src, { ecmaVersion: 2019, sourceType: "script" });
    console.log("null");
  } catch (e) {
    console.log(JSON.stringify(String(e.message)));
  }
});
"""


def es2019_syntax_error(source: str) -> str | None:
    """The parse error of ``source`` as ES2019 script, or None when it parses."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: {INSTALL_HINT}")
    if not (ACORN / "package.json").is_file():
        pytest.fail(f"acorn is not installed in {ACORN.parent}: {INSTALL_HINT}")
    result = subprocess.run(
        [node, "-e", _CHECKER],
        input=source,
        capture_output=True,
        text=True,
        env={**os.environ, "ACORN_PATH": str(ACORN)},
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"the acorn checker failed ({INSTALL_HINT}?): {result.stderr}")
    error: str | None = json.loads(result.stdout)
    return error


def static_scripts() -> list[Path]:
    return sorted(STATIC.glob("*.js"))


def test_there_is_a_client_to_check() -> None:
    assert static_scripts(), f"no .js files in {STATIC}"


@pytest.mark.parametrize("script", static_scripts(), ids=lambda p: p.name)
def test_client_parses_as_es2019(script: Path) -> None:
    error = es2019_syntax_error(script.read_text(encoding="utf-8"))
    assert error is None, f"{script.name} is not ES2019 (Chromium 79 cannot run it): {error}"


@pytest.mark.parametrize(
    "source",
    [
        "a?.b;",
        "a ?? b;",
        "a ||= b;",
        "class A { x = 1; }",
        "await fetch('/');",
        "let big = 1n;",
    ],
)
def test_checker_rejects_newer_syntax(source: str) -> None:
    assert es2019_syntax_error(source) is not None


@pytest.mark.parametrize(
    "source",
    [
        "a && a.b;",
        "const f = async () => { await fetch('/'); };",
        "let {x, ...rest} = {x: 1, y: 2};",
        "try { f(); } catch { g(); }",
    ],
)
def test_checker_accepts_es2019(source: str) -> None:
    assert es2019_syntax_error(source) is None


def test_index_loads_the_client_from_static() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert 'src="/static/app.js"' in html
    assert 'href="/static/style.css"' in html

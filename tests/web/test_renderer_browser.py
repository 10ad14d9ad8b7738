"""The v2 renderer (``static/renderer.js``) in a real headless Chromium.

Every test draws known grids on a bare page (the script added from disk, no server)
and reads the canvas back: screenshots measured with Pillow for where colours land,
``getImageData`` for exact comparisons. Each of the renderer's three paths is tested
(``pixels``, the default; ``atlas``; the ``fillText`` fallback), forced by option and
checked to be the one in use. Screenshots are saved in ``test-artifacts/``.

Geometry: a ``COLS x ROWS`` grid fitted to a ``BOX`` at device pixel ratio 2 makes
cells of exactly 48 x 80 device pixels, so cell edges are known without asking.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.web.chromium import chromium
from tests.web.test_client_browser import ARTIFACTS

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "tuner" / "web" / "static"
COLS, ROWS = 16, 6
BOX = (400, 240)  # CSS pixels: the grid is height-bound, 40 CSS px a row
DPR = 2
CELL_W, CELL_H = 48, 80  # device pixels: floor(40 * 2) = 80 high, 0.6 of that wide
PATHS = ["pixels", "atlas", "fillText"]
RAMP = b" .`:-=+*cox#%&@"

#: Eight bars, two columns each: RGB332 codes and the RGB the protocol gives them.
BARS = [0xE0, 0x1C, 0x03, 0xFC, 0xE3, 0x1F, 0xFF, 0x49]


def rgb332(code: int) -> tuple[int, int, int]:
    code = int(code)  # not numpy's uint8, whose arithmetic wraps
    return (
        round(((code >> 5) & 7) * 255 / 7),
        round(((code >> 2) & 7) * 255 / 7),
        round((code & 3) * 255 / 3),
    )


PAGE = """<!doctype html><meta charset="utf-8">
<style>html, body { margin: 0; background: #000; } canvas { display: block; }</style>
<canvas id="screen"></canvas><canvas id="other"></canvas>"""

# window.draw(id, path, grid, full): draws on canvas `id` with a renderer for `path`,
# made on first use and kept; returns what the renderer reports.
HARNESS = """
window.renderers = {};
window.draw = function (id, path, grid, full) {
  var key = id + "/" + path;
  var renderer = window.renderers[key];
  if (!renderer) {
    renderer = new TunerRenderer.Renderer(document.getElementById(id), { path: path });
    renderer.fit(BOX_WIDTH, BOX_HEIGHT, window.devicePixelRatio);
    window.renderers[key] = renderer;
  }
  var planes = grid.planes.map(function (p) { return Uint8Array.from(p); });
  var drawn = renderer.draw({ mode: grid.mode, cols: grid.cols, rows: grid.rows,
    planes: planes }, full);
  return { drawn: drawn, path: renderer.path, stats: renderer.stats,
    width: renderer.canvas.width, height: renderer.canvas.height,
    cellHeight: renderer.layout.cellHeight, xs: Array.from(renderer.layout.xs) };
};
window.differingPixels = function (a, b) {
  var ca = document.getElementById(a);
  var cb = document.getElementById(b);
  if (ca.width !== cb.width || ca.height !== cb.height) return -1;
  var pa = ca.getContext("2d").getImageData(0, 0, ca.width, ca.height).data;
  var pb = cb.getContext("2d").getImageData(0, 0, cb.width, cb.height).data;
  var n = 0;
  for (var i = 0; i < pa.length; i += 4) {
    if (pa[i] !== pb[i] || pa[i + 1] !== pb[i + 1] || pa[i + 2] !== pb[i + 2]) n++;
  }
  return n;
}
""".replace("BOX_WIDTH", str(BOX[0])).replace("BOX_HEIGHT", str(BOX[1]))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, once for the module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A bare page with codec.js, renderer.js and the harness above."""
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 800, "height": 600}, device_scale_factor=DPR)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content(PAGE)
    page.add_script_tag(path=str(STATIC / "codec.js"))
    page.add_script_tag(path=str(STATIC / "renderer.js"))
    page.add_script_tag(content=HARNESS)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def grid(mode: str, *planes: np.ndarray) -> dict[str, Any]:
    rows, cols = planes[0].shape
    return {
        "mode": mode,
        "cols": cols,
        "rows": rows,
        "planes": [p.reshape(-1).tolist() for p in planes],
    }


def draw(
    page: Any, g: dict[str, Any], path: str, full: bool = False, canvas: str = "screen"
) -> Any:
    result = page.evaluate("([id, path, grid, full]) => draw(id, path, grid, full)",
                           [canvas, path, g, full])  # fmt: skip
    assert result["path"] == path, f"asked for the {path} path, got {result['path']}"
    return result


def screenshot(page: Any, name: str) -> np.ndarray:
    """The canvas as the screen shows it, (height, width, 3) RGB; saved as an artifact."""
    from PIL import Image

    png: bytes = page.locator("#screen").screenshot()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def cell(image: np.ndarray, col: int, row: int) -> np.ndarray:
    return image[row * CELL_H : (row + 1) * CELL_H, col * CELL_W : (col + 1) * CELL_W]


def dominant(pixels: np.ndarray) -> tuple[int, int, int] | None:
    """The commonest colour among pixels that are not (nearly) black."""
    flat = pixels.reshape(-1, 3)
    lit = flat[flat.astype(int).sum(axis=1) > 60]
    if not len(lit):
        return None
    colour, _ = Counter(map(tuple, lit.tolist())).most_common(1)[0]
    return (int(colour[0]), int(colour[1]), int(colour[2]))


def near(a: tuple[int, int, int] | None, b: tuple[int, int, int], tolerance: int = 3) -> bool:
    return a is not None and all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def bar_codes() -> np.ndarray:
    """(ROWS, COLS) colour codes: bar k over columns 2k and 2k + 1."""
    return np.tile(np.repeat(np.array(BARS, dtype=np.uint8), COLS // len(BARS)), (ROWS, 1))


@pytest.mark.parametrize("path", PATHS)
def test_geometry_fills_the_box_at_device_pixels(page: Any, path: str) -> None:
    symbols = np.full((ROWS, COLS), ord("@"), dtype=np.uint8)
    result = draw(page, grid("mono", symbols), path)
    assert (result["width"], result["height"]) == (COLS * CELL_W, ROWS * CELL_H)
    assert result["xs"] == [c * CELL_W for c in range(COLS + 1)]
    assert result["cellHeight"] == CELL_H
    css = page.evaluate("(c => [c.style.width, c.style.height])(document.getElementById('screen'))")
    assert css == [f"{COLS * CELL_W // DPR}px", f"{ROWS * CELL_H // DPR}px"]
    image = screenshot(page, f"renderer-geometry-{path}.png")
    assert image.shape == (ROWS * CELL_H, COLS * CELL_W, 3), "the canvas is not at device pixels"


@pytest.mark.parametrize("path", PATHS)
def test_color_bars_land_in_their_columns(page: Any, path: str) -> None:
    symbols = np.full((ROWS, COLS), ord("@"), dtype=np.uint8)
    symbols[ROWS - 1] = ord(" ")  # the bottom row is blank: black whatever its colour
    colours = bar_codes()
    draw(page, grid("color", symbols, colours), path)
    image = screenshot(page, f"renderer-color-{path}.png")
    for col in range(COLS):
        expected = rgb332(BARS[col // 2])
        for row in range(ROWS - 1):
            found = dominant(cell(image, col, row))
            assert near(found, expected), f"cell {col},{row}: {found}, expected {expected}"
        assert dominant(cell(image, col, ROWS - 1)) is None, f"a space in column {col} drew"
    # A glyph on black: some pixels of each lit cell are background.
    assert (cell(image, 0, 0).reshape(-1, 3).sum(axis=1) == 0).mean() > 0.3


@pytest.mark.parametrize("path", PATHS)
def test_mono_ramp_goes_from_dark_to_bright(page: Any, path: str) -> None:
    ramp_index = np.minimum(np.arange(COLS), len(RAMP) - 1)  # " .`:...&@@"
    symbols = np.tile(np.frombuffer(RAMP, dtype=np.uint8)[ramp_index], (ROWS, 1))
    draw(page, grid("mono", symbols), path)
    image = screenshot(page, f"renderer-mono-{path}.png")
    lit = [(image[:, c * CELL_W : (c + 1) * CELL_W].sum(axis=2) > 150).mean() for c in range(COLS)]
    assert lit[0] == 0, "the darkest column (spaces) drew something"
    assert all(x > 0 for x in lit[1:]), f"a ramp character drew nothing: {lit}"
    assert np.mean(lit[: COLS // 2]) * 2.5 < np.mean(lit[COLS // 2 :]), f"not a ramp: {lit}"
    assert lit[-1] == max(lit), f"'@' is not the brightest: {lit}"
    assert near(dominant(image), (230, 230, 230)), "mono is not light grey"


@pytest.mark.parametrize("path", PATHS)
def test_braille_dots_in_their_colours_and_places(page: Any, path: str) -> None:
    symbols = np.full((ROWS, COLS), 0xFF, dtype=np.uint8)  # all eight dots
    symbols[3] = 0x01  # dot 1 only: top left
    symbols[4] = 0x80  # dot 8 only: bottom right
    symbols[5] = 0x00  # no dots, coloured anyway: black
    colours = bar_codes()
    draw(page, grid("braille", symbols, colours), path)
    image = screenshot(page, f"renderer-braille-{path}.png")
    for col in range(COLS):
        expected = rgb332(BARS[col // 2])
        for row in range(3):
            found = dominant(cell(image, col, row))
            assert near(found, expected), f"cell {col},{row}: {found}, expected {expected}"
        assert dominant(cell(image, col, 5)) is None, f"an empty braille cell drew, column {col}"
    # Where the single dots are: lit pixels' centre in the cell, as a share of it.
    for row, (want_x, want_y) in ((3, (0.25, 1 / 8)), (4, (0.75, 7 / 8))):
        ys, xs = np.nonzero(cell(image, 0, row).sum(axis=2) > 60)
        assert len(xs), f"row {row}: the dot is missing"
        x, y = xs.mean() / CELL_W, ys.mean() / CELL_H
        assert abs(x - want_x) < 0.15 and abs(y - want_y) < 0.1, (
            f"row {row}: dot at {x:.2f},{y:.2f}"
        )


@pytest.mark.parametrize("path", PATHS)
def test_blocks_top_is_the_first_colour_bottom_the_second(page: Any, path: str) -> None:
    top = bar_codes()
    bottom = np.full((ROWS, COLS), 0x02, dtype=np.uint8)  # a dark blue under every bar
    bottom[:, -2:] = 0xE0  # and red under the last bar
    draw(page, grid("blocks", top, bottom), path)
    image = screenshot(page, f"renderer-blocks-{path}.png")
    for col in range(COLS):
        for row in range(ROWS):
            block = cell(image, col, row)
            upper = tuple(int(v) for v in block[CELL_H // 4, CELL_W // 2])
            lower = tuple(int(v) for v in block[3 * CELL_H // 4, CELL_W // 2])
            assert near(upper, rgb332(top[row, col])), f"cell {col},{row} top: {upper}"  # type: ignore[arg-type]
            assert near(lower, rgb332(bottom[row, col])), f"cell {col},{row} bottom: {lower}"  # type: ignore[arg-type]


def random_grid(mode: str, rng: np.random.Generator) -> list[np.ndarray]:
    shape = (ROWS, COLS)
    if mode == "blocks":
        return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2)]
    if mode == "braille":
        return [
            rng.integers(0, 256, shape, dtype=np.uint8),
            rng.integers(0, 256, shape, dtype=np.uint8),
        ]
    symbols = np.frombuffer(RAMP, dtype=np.uint8)[rng.integers(0, len(RAMP), shape)]
    if mode == "mono":
        return [symbols]
    return [symbols, rng.integers(0, 256, shape, dtype=np.uint8)]


@pytest.mark.parametrize("mode", ["mono", "color", "blocks", "braille"])
@pytest.mark.parametrize("path", PATHS)
def test_a_delta_draws_only_changed_cells_and_equals_a_full_redraw(
    page: Any, path: str, mode: str
) -> None:
    rng = np.random.default_rng(4)
    before = random_grid(mode, rng)
    after = [p.copy() for p in before]
    # Seven changed cells: in one plane, the other, both; neighbours; both ends of a row.
    changes = [(0, 0), (0, 1), (2, 5), (2, 6), (3, COLS - 1), (4, 0), (ROWS - 1, COLS - 1)]
    for i, (row, col) in enumerate(changes):
        planes = [i % len(after)] if i < 4 else list(range(len(after)))
        for p in planes:
            old = after[p][row, col]
            choices = (
                np.frombuffer(RAMP, dtype=np.uint8)
                if mode in ("mono", "color") and p == 0
                else None
            )
            new = old
            while new == old:
                new = rng.choice(choices) if choices is not None else rng.integers(0, 256)
            after[p][row, col] = new

    first = draw(page, grid(mode, *before), path)
    assert first["drawn"] == ROWS * COLS, "the first grid is not drawn whole"
    delta = draw(page, grid(mode, *after), path)
    assert delta["drawn"] == len(changes), f"a delta of {len(changes)} cells drew {delta['drawn']}"
    assert delta["stats"]["cellsDrawn"] == len(changes)
    again = draw(page, grid(mode, *after), path)
    assert again["drawn"] == 0, "an unchanged grid was drawn again"

    # The same grid drawn whole on a fresh canvas must look the same, pixel for pixel
    # (fillText: glyph edges may spill over a neighbour, so all but a few pixels).
    draw(page, grid(mode, *after), path, canvas="other")
    differing = page.evaluate("differingPixels('screen', 'other')")
    assert differing >= 0, "the two canvases have different sizes"
    allowed = 0 if path != "fillText" else ROWS * COLS * CELL_W * CELL_H // 200
    assert differing <= allowed, f"{differing} pixels differ between delta and full redraw"
    if path != "fillText":
        # And the delta really changed the picture: the old grid, drawn whole, differs.
        draw(page, grid(mode, *before), path, full=True, canvas="other")
        assert page.evaluate("differingPixels('screen', 'other')") > 0


@pytest.mark.parametrize("path", PATHS)
def test_keyframe_mode_change_and_resize_redraw_everything(page: Any, path: str) -> None:
    rng = np.random.default_rng(7)
    colour = random_grid("color", rng)
    draw(page, grid("color", *colour), path)
    assert draw(page, grid("color", *colour), path, full=True)["drawn"] == ROWS * COLS
    braille = random_grid("braille", rng)
    assert draw(page, grid("braille", *braille), path)["drawn"] == ROWS * COLS
    smaller = [p[:, : COLS // 2].copy() for p in braille]
    result = draw(page, grid("braille", *smaller), path)
    assert result["drawn"] == ROWS * COLS // 2
    assert result["width"] == COLS // 2 * CELL_W, "a narrower grid kept the old canvas width"
    # A resize: the canvas is laid out again and everything drawn at once.
    stats = page.evaluate(
        "() => { var r = renderers['screen/" + path + "']; var layout = r.fit(200, 120, 2);"
        " return [r.stats.cellsDrawn, layout.cellHeight, r.canvas.height]; }"
    )
    assert stats == [ROWS * COLS // 2, CELL_H // 2, ROWS * CELL_H // 2]


def test_the_fastest_working_path_is_the_default(page: Any) -> None:
    chosen = page.evaluate(
        "[new TunerRenderer.Renderer(document.createElement('canvas')).path,"
        " new TunerRenderer.Renderer(document.createElement('canvas'), {fallback: true}).path]"
    )
    assert chosen == ["pixels", "fillText"]


def test_decoded_v2_messages_draw_as_their_grid(page: Any) -> None:
    """codec.js's decoder is a grid the renderer draws as it is, keyframe then delta."""
    from tuner.core.codec import Encoder
    from tuner.core.grid import Grid
    from tuner.core.presets import Mode

    colours = bar_codes()
    symbols = np.full((ROWS, COLS), ord("#"), dtype=np.uint8)
    encoder = Encoder(tolerance=0)
    key = encoder.encode(Grid(Mode.COLOR, np.stack([symbols, colours])), 0, 0)
    symbols2 = symbols.copy()
    symbols2[0, :3] = ord(" ")
    delta = encoder.encode(Grid(Mode.COLOR, np.stack([symbols2, colours])), 1, 40)
    drawn = page.evaluate(
        """([key, delta, box]) => {
          const decoder = new TunerCodec.Decoder();
          const renderer = new TunerRenderer.Renderer(document.getElementById('screen'));
          renderer.fit(box[0], box[1], 2);
          const out = [];
          for (const message of [key, delta]) {
            const info = decoder.decode(Uint8Array.from(message));
            out.push(renderer.draw(decoder, info.kind === 'keyframe'));
          }
          return out;
        }""",
        [list(key), list(delta), list(BOX)],
    )
    assert drawn == [ROWS * COLS, 3]
    image = screenshot(page, "renderer-decoded.png")
    assert dominant(cell(image, 0, 0)) is None and dominant(cell(image, 2, 0)) is None
    assert near(dominant(cell(image, 3, 0)), rgb332(BARS[1]))

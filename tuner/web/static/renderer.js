/*
 * tuner's fast canvas renderer for protocol v2 grids (docs/protocol.rst, "Video,
 * protocol version 2"): mono, color, blocks and braille cells on a <canvas>.
 *
 * Plain ECMAScript 2019, no dependency, no build step: the car's Chromium can be as
 * old as 79. Newer or fragile canvas features are detected, not assumed.
 *
 * How it draws, and why:
 *   - Cells sit on whole device pixels. Rows are `h` pixels (an integer, as in
 *     app.js); columns are `0.6 h` wide on average, each column's left edge rounded
 *     to a pixel, so the picture keeps the cell aspect exactly while every cell owns
 *     whole pixels. A cell can then be redrawn alone without touching its neighbours,
 *     which is what makes drawing only the changed cells exact.
 *   - Only changed cells are drawn: the renderer keeps a copy of the grid it drew
 *     last and compares plane bytes (so frames skipped in between do not matter). A
 *     keyframe (draw(grid, true)), a new mode or grid size, or a resize redraws all.
 *   - Glyphs come from an atlas: every glyph a mode can need is drawn once per cell
 *     size into an offscreen canvas, white on transparent: printable ASCII (which
 *     covers the mono ramp) with the font, and the 256 braille patterns as
 *     pixel-snapped square dots (crisp at 7-pixel cells, and the same whatever fonts
 *     the car has; the protocol allows drawing the dots yourself). `blocks` needs no
 *     glyph: the upper half block is the top half of the cell, drawn as such
 *     (as rectangles, on every path: a font's "\u2580" can overhang its cell).
 *   - Three ways to put cells on the canvas, chosen by feature detection:
 *     "pixels" (the default): the atlas is read back once as alpha masks, and each
 *       changed cell's pixels are written from JavaScript into an ImageData that
 *       mirrors the canvas (colour times coverage, through a 256-entry table per
 *       colour), then the rows that changed are put back with one putImageData.
 *       On a software canvas this costs about 0.1 us a cell where a drawImage costs
 *       8-10 us and a fillText 4 us (bench/bench_client_draw.py and its notes).
 *     "atlas": each changed cell is one drawImage of its glyph, white on black
 *       (replacing its pixels whole), then each colour (RGB332: at most 256 a frame)
 *       is one path of rectangles over its cells, filled with "multiply": white
 *       becomes the colour, black stays black. No per-cell fillText and no tinted
 *       copy of the atlas per colour (256 copies of the braille atlas would cost
 *       over 100 MB at "low" on a 2x screen). For a GPU canvas, where drawImage
 *       is cheap and pixel uploads are not: ask for it with {path: "atlas"}.
 *     "fillText": one fillText per changed cell, batched by colour. Used when
 *       neither of the others works here, or when asked ({fallback: true}).
 *
 * Usage:
 *   var renderer = new TunerRenderer.Renderer(canvas, {});
 *   renderer.fit(boxCssWidth, boxCssHeight, window.devicePixelRatio);  // on resize
 *   var decoder = new TunerCodec.Decoder();
 *   var info = decoder.decode(message);
 *   renderer.draw(decoder, info.kind === "keyframe");  // any {mode, cols, rows, planes}
 *   renderer.stats.cellsDrawn  // cells drawn by the last draw()
 */
(function (root) {
  "use strict";

  // Monospace glyphs are about 0.6 em wide; the server renders its grid for that aspect.
  var CELL_ASPECT = 0.6;
  var MONO_COLOUR = "#e6e6e6";
  var FONT_FAMILY = "\"DejaVu Sans Mono\", \"Roboto Mono\", \"Droid Sans Mono\", monospace";
  var MODES = { mono: true, color: true, blocks: true, braille: true };
  var BRAILLE_BASE = 0x2800;
  // Braille dots in the cell, as Unicode numbers them: [column, row] of bit 0..7.
  var BRAILLE_DOTS = [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [0, 3], [1, 3]];
  // The atlas is a grid of glyph slots, this many across.
  var ATLAS_COLUMNS = 16;

  /** CSS colour of each RGB332 code (the same table as TunerCodec.CSS_COLORS). */
  var CSS_COLOURS = [];
  for (var code = 0; code < 256; code++) {
    CSS_COLOURS.push("rgb(" + Math.round(((code >> 5) & 7) * 255 / 7) + "," +
      Math.round(((code >> 2) & 7) * 255 / 7) + "," + Math.round((code & 3) * 255 / 3) + ")");
  }

  /**
   * Where a cols x rows grid goes in a box of boxWidth x boxHeight CSS pixels.
   *
   * Returns {cols, rows, dpr, cellHeight, cellWidth (the mean, fractional), xs
   * (cols + 1 column edges in device pixels), width, height (the canvas's device
   * pixels), cssWidth, cssHeight, left, top (to centre it in the box)}.
   */
  function computeLayout(cols, rows, boxWidth, boxHeight, dpr) {
    dpr = dpr > 0 ? dpr : 1;
    var cssCellH = Math.min(boxHeight / rows, boxWidth / (cols * CELL_ASPECT));
    // Whole device pixels per row put every row on the pixel grid.
    var h = Math.max(2, Math.floor(cssCellH * dpr));
    var w = h * CELL_ASPECT;
    var xs = new Int32Array(cols + 1);
    for (var c = 0; c <= cols; c++) xs[c] = Math.round(c * w);
    var width = xs[cols];
    var height = h * rows;
    return {
      cols: cols, rows: rows, dpr: dpr, cellHeight: h, cellWidth: w, xs: xs,
      width: width, height: height, cssWidth: width / dpr, cssHeight: height / dpr,
      left: Math.floor((boxWidth - width / dpr) / 2), top: Math.floor((boxHeight - height / dpr) / 2),
    };
  }

  /** The cells whose bytes differ between two lists of planes: their count, in `out`. */
  function diffCells(planes, previous, cells, out) {
    var n = 0;
    var i;
    if (planes.length === 1) {
      var a = planes[0];
      var pa = previous[0];
      for (i = 0; i < cells; i++) if (a[i] !== pa[i]) out[n++] = i;
    } else {
      var a0 = planes[0];
      var a1 = planes[1];
      var p0 = previous[0];
      var p1 = previous[1];
      for (i = 0; i < cells; i++) if (a0[i] !== p0[i] || a1[i] !== p1[i]) out[n++] = i;
    }
    return n;
  }

  function newCanvas(width, height) {
    if (typeof document === "undefined" || !document.createElement) return null;
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, width);
    canvas.height = Math.max(1, height);
    return canvas;
  }

  // --- the glyph atlas ------------------------------------------------------------

  /**
   * Every glyph of a kind ("ascii" or "braille") for one cell size, white on
   * transparent, in slots of slotWidth x cellHeight; `opaque` is the same on black.
   */
  function Atlas(kind, slotWidth, cellHeight, cellWidth) {
    var count = kind === "braille" ? 256 : 128;
    this.kind = kind;
    this.slotWidth = slotWidth;
    this.cellHeight = cellHeight;
    this.canvas = newCanvas(ATLAS_COLUMNS * slotWidth, Math.ceil(count / ATLAS_COLUMNS) * cellHeight);
    var ctx = this.canvas && this.canvas.getContext("2d");
    if (!ctx) throw new Error("no 2D context for the glyph atlas");
    // Which glyph codes draw nothing: their cells are drawn as plain black.
    this.blank = new Uint8Array(256);
    this.blank.fill(1);
    ctx.fillStyle = "#fff";
    if (kind === "braille") this.drawBraille(ctx, cellWidth);
    else this.drawAscii(ctx, cellWidth);
    // The opaque copy: a drawImage of one slot then replaces a cell's pixels whole.
    this.opaque = newCanvas(this.canvas.width, this.canvas.height);
    var octx = this.opaque.getContext("2d");
    octx.fillStyle = "#000";
    octx.fillRect(0, 0, this.opaque.width, this.opaque.height);
    octx.drawImage(this.canvas, 0, 0);
  }

  /** "pixels" path: the atlas's coverage (its alpha), one byte a pixel. */
  Atlas.prototype.readMasks = function () {
    var width = this.canvas.width;
    var data = this.canvas.getContext("2d").getImageData(0, 0, width, this.canvas.height).data;
    this.masks = new Uint8Array(data.length >> 2);
    for (var i = 0; i < this.masks.length; i++) this.masks[i] = data[4 * i + 3];
    this.maskWidth = width;
  };

  Atlas.prototype.slotX = function (glyph) { return (glyph % ATLAS_COLUMNS) * this.slotWidth; };
  Atlas.prototype.slotY = function (glyph) { return Math.floor(glyph / ATLAS_COLUMNS) * this.cellHeight; };

  Atlas.prototype.drawAscii = function (ctx, cellWidth) {
    var h = this.cellHeight;
    ctx.font = h + "px " + FONT_FAMILY;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    var advance = ctx.measureText("M").width;
    // Squeeze or stretch the font so one advance is one cell, as app.js does.
    var scaleX = advance > 0 ? cellWidth / advance : 1;
    for (var code = 0x21; code < 0x7f; code++) {
      this.blank[code] = 0;
      ctx.save();
      // Clip to the slot: a glyph that overhangs its cell must not bleed into the next slot.
      ctx.beginPath();
      ctx.rect(this.slotX(code), this.slotY(code), this.slotWidth, h);
      ctx.clip();
      ctx.setTransform(scaleX, 0, 0, 1, 0, 0);
      ctx.fillText(String.fromCharCode(code), (this.slotX(code) + cellWidth / 2) / scaleX,
        this.slotY(code) + h / 2);
      ctx.restore();
    }
  };

  Atlas.prototype.drawBraille = function (ctx, cellWidth) {
    var h = this.cellHeight;
    // A dot is a square of about half its share of the cell, on whole pixels.
    var size = Math.max(1, Math.round(Math.min(cellWidth / 2, h / 4) * 0.55));
    for (var pattern = 1; pattern < 256; pattern++) {
      this.blank[pattern] = 0;
      for (var bit = 0; bit < 8; bit++) {
        if (!(pattern & (1 << bit))) continue;
        var dot = BRAILLE_DOTS[bit];
        var x = Math.round((dot[0] + 0.5) * cellWidth / 2 - size / 2);
        var y = Math.round((dot[1] + 0.5) * h / 4 - size / 2);
        ctx.fillRect(this.slotX(pattern) + x, this.slotY(pattern) + y, size, size);
      }
    }
  };

  /** Whether "multiply" compositing works here: white times red must read back red. */
  function multiplyWorks() {
    var canvas = newCanvas(2, 2);
    var ctx = canvas && canvas.getContext("2d");
    if (!ctx || typeof ctx.drawImage !== "function" || typeof ctx.getImageData !== "function") {
      return false;
    }
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 2, 2);
    ctx.globalCompositeOperation = "multiply";
    if (ctx.globalCompositeOperation !== "multiply") return false;
    ctx.fillStyle = "rgb(255,0,0)";
    ctx.fillRect(0, 0, 2, 2);
    var pixel = ctx.getImageData(1, 1, 1, 1).data;
    return pixel[0] > 250 && pixel[1] < 5 && pixel[2] < 5;
  }

  /** Whether ImageData round-trips through putImageData: a green pixel reads back green. */
  function pixelsWork() {
    if (typeof Uint32Array === "undefined" || typeof ImageData === "undefined") return false;
    var canvas = newCanvas(2, 2);
    var ctx = canvas && canvas.getContext("2d");
    if (!ctx || typeof ctx.putImageData !== "function" || typeof ctx.createImageData !== "function") {
      return false;
    }
    var image = ctx.createImageData(2, 2);
    var words = new Uint32Array(image.data.buffer);
    words[3] = packRgb(0, 255, 0);
    ctx.putImageData(image, 0, 0);
    var pixel = ctx.getImageData(1, 1, 1, 1).data;
    return pixel[0] === 0 && pixel[1] === 255 && pixel[2] === 0 && pixel[3] === 255;
  }

  // An opaque RGB pixel as one Uint32Array word of ImageData (its bytes are R, G, B, A
  // in memory, so the word's layout depends on the platform's byte order).
  var LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  function packRgb(r, g, b) {
    return LITTLE_ENDIAN ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
      : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  }

  /** RGB of a colour key: 1 + an RGB332 code, or MONO_KEY. */
  function keyRgb(key) {
    if (key === MONO_KEY) return MONO_RGB;
    var c = key - 1;
    return [Math.round(((c >> 5) & 7) * 255 / 7), Math.round(((c >> 2) & 7) * 255 / 7),
      Math.round((c & 3) * 255 / 3)];
  }

  // --- the renderer ---------------------------------------------------------------

  // Cells are sorted by a colour key: 0 draws nothing (black), 1 + c is RGB332 colour
  // c, MONO_KEY is mono's light grey.
  var MONO_KEY = 257;
  var KEYS = 258;
  var MONO_RGB = [230, 230, 230];

  /**
   * Draws v2 grids on `canvas`.
   *
   * options.path: "pixels", "atlas" or "fillText" to choose how cells are drawn
   *   (see the top of this file); by default the first of those that works here.
   * options.fallback: true is {path: "fillText"}, e.g. for a benchmark's baseline.
   * options.fontFamily: the monospace font stack for ASCII glyphs.
   */
  function Renderer(canvas, options) {
    options = options || {};
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.fontFamily = options.fontFamily || FONT_FAMILY;
    var wanted = options.fallback ? "fillText" : options.path;
    var path = "fillText";
    if (wanted !== "fillText") {
      if (wanted !== "atlas" && pixelsWork()) path = "pixels";
      else if (multiplyWorks()) path = "atlas";
      else if (pixelsWork()) path = "pixels";
    }
    this.path = path;
    this.box = null; // {width, height, dpr} in CSS pixels, from fit()
    this.layout = null; // computeLayout() of the grid drawn
    this.atlases = {}; // by kind, for the current layout
    this.image = null; // "pixels": the canvas's pixels, and its Uint32Array view
    this.words = null;
    this.tints = []; // "pixels": per colour key, coverage 0-255 to a pixel word
    // The grid last drawn, copied: the decoder changes its planes in place.
    this.mode = null;
    this.planes = null;
    this.full = true; // the next draw redraws every cell
    // Scratch space for the changed cells and their order by colour key.
    this.changed = new Int32Array(0);
    this.order = new Int32Array(0);
    this.keys = new Uint16Array(0);
    this.counts = new Int32Array(KEYS + 1);
    /** For tests and benchmarks: what the last draw() did. */
    this.stats = { path: path, mode: null, cellsDrawn: 0, frames: 0, fullRedraws: 0 };
  }

  /**
   * Size the canvas for a box of width x height CSS pixels at `dpr` device pixels
   * per CSS pixel, and redraw what was drawn. Returns the layout (see
   * computeLayout) once a grid has been drawn, else null; the caller positions the
   * canvas in its box with layout.left and layout.top.
   */
  Renderer.prototype.fit = function (width, height, dpr) {
    this.box = { width: width, height: height, dpr: dpr > 0 ? dpr : 1 };
    if (!this.planes) return null;
    this.relayout(this.layout.cols, this.layout.rows);
    this.drawCells(true, 0);
    return this.layout;
  };

  Renderer.prototype.relayout = function (cols, rows) {
    var box = this.box;
    if (!box) {
      // Not fitted yet: use the canvas's own size.
      var dpr = (typeof window !== "undefined" && window.devicePixelRatio) || 1;
      box = { width: this.canvas.clientWidth || this.canvas.width / dpr,
        height: this.canvas.clientHeight || this.canvas.height / dpr, dpr: dpr };
    }
    var layout = computeLayout(cols, rows, box.width, box.height, box.dpr);
    var canvas = this.canvas;
    // Setting a canvas's size clears it and resets its context state, even to the same size.
    canvas.width = layout.width;
    canvas.height = layout.height;
    if (canvas.style) {
      canvas.style.width = layout.cssWidth + "px";
      canvas.style.height = layout.cssHeight + "px";
    }
    var old = this.layout;
    if (!old || old.cellHeight !== layout.cellHeight || old.cols !== cols) this.atlases = {};
    this.layout = layout;
    var cells = cols * rows;
    if (this.changed.length !== cells) {
      this.changed = new Int32Array(cells);
      this.order = new Int32Array(cells);
      this.keys = new Uint16Array(cells);
    }
    if (this.path === "pixels") {
      this.image = this.ctx.createImageData(layout.width, layout.height);
      this.words = new Uint32Array(this.image.data.buffer);
    }
    this.ctx.imageSmoothingEnabled = false;
    this.full = true;
  };

  /**
   * Draw a grid: {mode, cols, rows, planes} (a TunerCodec.Decoder is one). Draws
   * only the cells that differ from the grid drawn last, or all when `full` (pass
   * true for a keyframe) or when the mode or size changed. Returns the number of
   * cells drawn.
   */
  Renderer.prototype.draw = function (grid, full) {
    if (!grid || !MODES[grid.mode] || !grid.planes) throw new Error("not a v2 grid: " + grid);
    var cells = grid.cols * grid.rows;
    var layout = this.layout;
    if (!layout || layout.cols !== grid.cols || layout.rows !== grid.rows) {
      this.relayout(grid.cols, grid.rows);
    }
    var nPlanes = grid.mode === "mono" ? 1 : 2;
    if (grid.mode !== this.mode || !this.planes || this.planes[0].length !== cells) {
      this.mode = grid.mode;
      this.stats.mode = grid.mode;
      this.planes = [];
      for (var m = 0; m < nPlanes; m++) this.planes.push(new Uint8Array(cells));
      this.full = true;
    }
    var all = this.full || full === true;
    var n = 0;
    var p;
    if (all) {
      for (p = 0; p < nPlanes; p++) this.planes[p].set(grid.planes[p]);
    } else {
      n = diffCells(grid.planes, this.planes, cells, this.changed);
      var changed = this.changed;
      for (p = 0; p < nPlanes; p++) {
        var mine = this.planes[p];
        var theirs = grid.planes[p];
        for (var k = 0; k < n; k++) mine[changed[k]] = theirs[changed[k]];
      }
    }
    return this.drawCells(all, n);
  };

  /** Draw every cell (all) or the first n of this.changed, from this.planes. */
  Renderer.prototype.drawCells = function (all, n) {
    if (all) {
      n = this.layout.cols * this.layout.rows;
      for (var i = 0; i < n; i++) this.changed[i] = i;
      this.full = false;
      this.stats.fullRedraws++;
    }
    this.stats.frames++;
    this.stats.cellsDrawn = n;
    if (n === 0) return 0;
    var ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = "source-over";
    if (this.path === "pixels") this.drawPixels(n);
    // The upper half block is the top half of the cell: rectangles on both paths that
    // have no pixels of their own, never the font's glyph.
    else if (this.mode === "blocks") this.drawBlocks(n);
    else if (this.path === "atlas") this.drawGlyphs(n);
    else this.drawText(n);
    return n;
  };

  /** The atlas for this mode's glyphs at this cell size, made when first needed. */
  Renderer.prototype.atlas = function () {
    var kind = this.mode === "braille" ? "braille" : "ascii";
    var atlas = this.atlases[kind];
    if (!atlas) {
      var xs = this.layout.xs;
      var slot = 1;
      for (var c = 0; c < this.layout.cols; c++) slot = Math.max(slot, xs[c + 1] - xs[c]);
      try {
        atlas = new Atlas(kind, slot, this.layout.cellHeight, this.layout.cellWidth);
        if (this.path === "pixels") atlas.readMasks();
      } catch (e) {
        // No context, or a canvas too big for this browser: fillText from now on.
        this.path = "fillText";
        this.stats.path = this.path;
        return null;
      }
      this.atlases[kind] = atlas;
    }
    return atlas;
  };

  /** Colour keys of the first n changed cells of a glyph mode, into this.keys. */
  Renderer.prototype.glyphKeys = function (n, blank) {
    var symbols = this.planes[0];
    var colours = this.mode === "mono" ? null : this.planes[1];
    var keys = this.keys;
    var changed = this.changed;
    for (var i = 0; i < n; i++) {
      var cell = changed[i];
      if (blank[symbols[cell]]) keys[i] = 0;
      else if (colours === null) keys[i] = MONO_KEY;
      else keys[i] = colours[cell] === 0 ? 0 : colours[cell] + 1;
    }
  };

  /**
   * Sort the first n changed cells by their key (a counting sort, stable: each key's
   * cells stay in cell order, so neighbours can be merged). Fills this.order; key
   * k's cells are order[counts[k] .. counts[k + 1]).
   */
  Renderer.prototype.sortByKey = function (n) {
    var counts = this.counts;
    var keys = this.keys;
    var changed = this.changed;
    var order = this.order;
    counts.fill(0);
    var i;
    for (i = 0; i < n; i++) counts[keys[i] + 1]++;
    for (i = 1; i < counts.length; i++) counts[i] += counts[i - 1];
    var next = counts.slice();
    for (i = 0; i < n; i++) order[next[keys[i]]++] = changed[i];
  };

  /**
   * Fill order[from..to) with `colour` as one path, merging cells that follow each
   * other in a row; each rectangle is `height` pixels from `dy` into its row.
   */
  Renderer.prototype.fillRuns = function (from, to, colour, dy, height) {
    if (from >= to) return;
    var ctx = this.ctx;
    var order = this.order;
    var cols = this.layout.cols;
    var xs = this.layout.xs;
    var h = this.layout.cellHeight;
    ctx.fillStyle = colour;
    ctx.beginPath();
    var i = from;
    while (i < to) {
      var start = order[i];
      var row = (start / cols) | 0;
      var end = start;
      var rowEnd = (row + 1) * cols;
      while (i + 1 < to && order[i + 1] === end + 1 && end + 1 < rowEnd) {
        end++;
        i++;
      }
      var c0 = start - row * cols;
      ctx.rect(xs[c0], row * h + dy, xs[end - row * cols + 1] - xs[c0], height);
      i++;
    }
    ctx.fill();
  };

  Renderer.prototype.keyCss = function (key) {
    return key === MONO_KEY ? MONO_COLOUR : CSS_COLOURS[key - 1];
  };

  // --- path "pixels" --------------------------------------------------------------

  /** A colour key's table from coverage (0-255) to a pixel word: the colour on black. */
  Renderer.prototype.tint = function (key) {
    var table = this.tints[key];
    if (!table) {
      var rgb = key === 0 ? [0, 0, 0] : keyRgb(key);
      table = new Uint32Array(256);
      for (var a = 0; a < 256; a++) {
        table[a] = packRgb(Math.round(rgb[0] * a / 255), Math.round(rgb[1] * a / 255),
          Math.round(rgb[2] * a / 255));
      }
      this.tints[key] = table;
    }
    return table;
  };

  /** Write the changed cells into the ImageData, then put back the rows they span. */
  Renderer.prototype.drawPixels = function (n) {
    var layout = this.layout;
    var words = this.words;
    var width = layout.width;
    var cols = layout.cols;
    var xs = layout.xs;
    var h = layout.cellHeight;
    var changed = this.changed;
    var blocks = this.mode === "blocks";
    var atlas = blocks ? null : this.atlas();
    if (!blocks && !atlas) {
      this.drawText(n);
      return;
    }
    var first = this.planes[0];
    var second = this.mode === "mono" ? null : this.planes[1];
    var top = h >> 1;
    var black = this.tint(0)[0];
    var i, y, x, o;
    for (i = 0; i < n; i++) {
      var cell = changed[i];
      var row = (cell / cols) | 0;
      var col = cell - row * cols;
      var x0 = xs[col];
      var w = xs[col + 1] - x0;
      var base = row * h * width + x0;
      if (blocks) {
        // The upper half block: the top colour over the bottom one.
        var upper = this.tint(first[cell] + 1)[255];
        var lower = this.tint(second[cell] + 1)[255];
        for (y = 0; y < h; y++) {
          var colour = y < top ? upper : lower;
          o = base + y * width;
          for (x = 0; x < w; x++) words[o + x] = colour;
        }
        continue;
      }
      var symbol = first[cell];
      var key = atlas.blank[symbol] ? 0
        : second === null ? MONO_KEY : (second[cell] === 0 ? 0 : second[cell] + 1);
      if (key === 0) {
        for (y = 0; y < h; y++) {
          o = base + y * width;
          for (x = 0; x < w; x++) words[o + x] = black;
        }
        continue;
      }
      var table = this.tint(key);
      var masks = atlas.masks;
      var m = atlas.slotY(symbol) * atlas.maskWidth + atlas.slotX(symbol);
      for (y = 0; y < h; y++) {
        o = base + y * width;
        var mo = m + y * atlas.maskWidth;
        for (x = 0; x < w; x++) words[o + x] = table[masks[mo + x]];
      }
    }
    // changed[] is in cell order, so its first and last cells bound the rows to put.
    var rowFirst = (changed[0] / cols) | 0;
    var rowLast = (changed[n - 1] / cols) | 0;
    this.ctx.putImageData(this.image, 0, 0, 0, rowFirst * h, width, (rowLast - rowFirst + 1) * h);
  };

  // --- path "atlas" ---------------------------------------------------------------

  /** Glyphs white on black from the atlas, then each colour multiplied over its cells. */
  Renderer.prototype.drawGlyphs = function (n) {
    var atlas = this.atlas();
    if (!atlas) {
      this.drawText(n);
      return;
    }
    this.glyphKeys(n, atlas.blank);
    this.sortByKey(n);
    var ctx = this.ctx;
    var counts = this.counts;
    var order = this.order;
    var symbols = this.planes[0];
    var cols = this.layout.cols;
    var xs = this.layout.xs;
    var h = this.layout.cellHeight;
    var source = atlas.opaque;
    // Cells that draw nothing: black, in one path.
    this.fillRuns(counts[0], counts[1], "#000", 0, h);
    // Every other cell: its glyph white on black, replacing the cell's pixels whole...
    for (var i = counts[1]; i < n; i++) {
      var cell = order[i];
      var row = (cell / cols) | 0;
      var col = cell - row * cols;
      var glyph = symbols[cell];
      var x = xs[col];
      var w = xs[col + 1] - x;
      ctx.drawImage(source, atlas.slotX(glyph), atlas.slotY(glyph), w, h, x, row * h, w, h);
    }
    // ...then each colour multiplies its cells: white becomes the colour, black stays.
    ctx.globalCompositeOperation = "multiply";
    for (var k = 1; k < KEYS; k++) {
      if (counts[k] < counts[k + 1]) this.fillRuns(counts[k], counts[k + 1], this.keyCss(k), 0, h);
    }
    ctx.globalCompositeOperation = "source-over";
  };

  /** blocks: per colour, one path of the top halves and one of the bottom halves. */
  Renderer.prototype.drawBlocks = function (n) {
    var h = this.layout.cellHeight;
    var top = h >> 1;
    var counts = this.counts;
    var keys = this.keys;
    var changed = this.changed;
    for (var plane = 0; plane < 2; plane++) {
      var colours = this.planes[plane];
      for (var i = 0; i < n; i++) keys[i] = colours[changed[i]] + 1;
      this.sortByKey(n);
      for (var k = 1; k < KEYS - 1; k++) {
        if (counts[k] < counts[k + 1]) {
          this.fillRuns(counts[k], counts[k + 1], CSS_COLOURS[k - 1],
            plane === 0 ? 0 : top, plane === 0 ? top : h - top);
        }
      }
    }
  };

  // --- path "fillText" ------------------------------------------------------------

  /** The fallback for glyph modes: changed cells cleared, one fillText per cell. */
  Renderer.prototype.drawText = function (n) {
    var ctx = this.ctx;
    var layout = this.layout;
    var h = layout.cellHeight;
    var cols = layout.cols;
    var xs = layout.xs;
    var order = this.order;
    var counts = this.counts;
    var changed = this.changed;
    var symbols = this.planes[0];
    var braille = this.mode === "braille";
    var i, k;
    for (i = 0; i < n; i++) order[i] = changed[i];
    this.fillRuns(0, n, "#000", 0, h);
    var blank = new Uint8Array(256);
    blank[braille ? 0 : 32] = 1;
    this.glyphKeys(n, blank);
    this.sortByKey(n);
    ctx.font = h + "px " + this.fontFamily;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    var advance = ctx.measureText("M").width;
    var scaleX = advance > 0 ? layout.cellWidth / advance : 1;
    ctx.setTransform(scaleX, 0, 0, 1, 0, 0);
    for (k = 1; k < KEYS; k++) {
      if (counts[k] === counts[k + 1]) continue;
      ctx.fillStyle = this.keyCss(k);
      for (i = counts[k]; i < counts[k + 1]; i++) {
        var cell = order[i];
        var row = (cell / cols) | 0;
        var col = cell - row * cols;
        var text = String.fromCharCode(braille ? BRAILLE_BASE + symbols[cell] : symbols[cell]);
        ctx.fillText(text, (xs[col] + xs[col + 1]) / 2 / scaleX, row * h + h / 2);
      }
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  };

  var api = {
    CELL_ASPECT: CELL_ASPECT,
    MONO_COLOUR: MONO_COLOUR,
    CSS_COLOURS: CSS_COLOURS,
    Renderer: Renderer,
    computeLayout: computeLayout,
    diffCells: diffCells,
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.TunerRenderer = api;
})(this);

/*
 * tuner's video protocol, version 2: a decoder for the browser (and node, for tests).
 *
 * docs/protocol.rst is the reference; tuner/core/codec.py is the reference
 * implementation, and tests/core/test_codec_js.py checks this file against it.
 *
 * Plain ECMAScript 2019 with no dependency, for Chromium 79: it has no
 * DecompressionStream for raw DEFLATE, so the inflater is here too.
 *
 * Usage:
 *   var decoder = new TunerCodec.Decoder();
 *   var info = decoder.decode(arrayBuffer);   // throws TunerCodec.ProtocolError
 *   decoder.planes[0][cell], decoder.cols, decoder.rows, decoder.mode
 *   info.changed: the cell numbers a delta changed (null after a keyframe: all)
 * On TunerCodec.OutOfSyncError, send {"type": "keyframe"} and drop deltas until
 * a keyframe arrives.
 */
(function (root) {
  "use strict";

  var VERSION = 2;
  var HEADER_SIZE = 20;
  var MAX_CELLS = 1 << 20;
  var MAX_VARINT_BYTES = 3;
  var KEYFRAME = 1;
  var DELTA = 2;
  var FLAG_DEFLATE = 1;

  /** Mode names by their byte, and how many planes each has. */
  var MODES = [null, "mono", "color", "blocks", "braille"];
  var PLANES = { mono: 1, color: 2, blocks: 2, braille: 2 };

  // --- errors ---------------------------------------------------------------------

  function ProtocolError(message) {
    var error = new Error(message);
    Object.setPrototypeOf(error, ProtocolError.prototype);
    return error;
  }
  ProtocolError.prototype = Object.create(Error.prototype, {
    constructor: { value: ProtocolError },
    name: { value: "ProtocolError" },
  });

  /** A valid delta for another grid than the one held: ask for a keyframe. */
  function OutOfSyncError(message) {
    var error = new Error(message);
    Object.setPrototypeOf(error, OutOfSyncError.prototype);
    return error;
  }
  OutOfSyncError.prototype = Object.create(ProtocolError.prototype, {
    constructor: { value: OutOfSyncError },
    name: { value: "OutOfSyncError" },
  });

  // --- colours --------------------------------------------------------------------

  /** RGB of each RGB332 code: PALETTE[3 * code] is red, then green, then blue. */
  var PALETTE = new Uint8Array(768);
  (function () {
    for (var c = 0; c < 256; c++) {
      PALETTE[3 * c] = Math.round(((c >> 5) & 7) * 255 / 7);
      PALETTE[3 * c + 1] = Math.round(((c >> 2) & 7) * 255 / 7);
      PALETTE[3 * c + 2] = Math.round((c & 3) * 255 / 3);
    }
  })();

  /** A CSS colour for each RGB332 code, e.g. CSS_COLORS[0xe0] === "rgb(255,0,0)". */
  var CSS_COLORS = [];
  for (var code = 0; code < 256; code++) {
    CSS_COLORS.push(
      "rgb(" + PALETTE[3 * code] + "," + PALETTE[3 * code + 1] + "," + PALETTE[3 * code + 2] + ")"
    );
  }

  // --- raw DEFLATE (RFC 1951) -----------------------------------------------------
  // After puff.c by Mark Adler: canonical Huffman codes decoded bit by bit. Payloads
  // are a few kilobytes, so clarity wins over table-driven speed.

  var LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
    67, 83, 99, 115, 131, 163, 195, 227, 258];
  var LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
    5, 5, 5, 5, 0];
  var DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
    769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  var DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
    11, 11, 12, 12, 13, 13];
  var CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

  function Huffman(lengths, n) {
    this.counts = new Uint16Array(16);
    this.symbols = new Uint16Array(n);
    var len, symbol;
    for (symbol = 0; symbol < n; symbol++) this.counts[lengths[symbol]]++;
    var left = 1;
    for (len = 1; len < 16; len++) {
      left = (left << 1) - this.counts[len];
      if (left < 0) throw ProtocolError("payload does not inflate: over-subscribed code");
    }
    var offsets = new Uint16Array(16);
    for (len = 1; len < 15; len++) offsets[len + 1] = offsets[len] + this.counts[len];
    for (symbol = 0; symbol < n; symbol++) {
      if (lengths[symbol] !== 0) this.symbols[offsets[lengths[symbol]]++] = symbol;
    }
  }

  var FIXED_LITERALS = null;
  var FIXED_DISTANCES = null;

  function fixedTables() {
    if (FIXED_LITERALS === null) {
      var lengths = new Uint8Array(288);
      for (var i = 0; i < 288; i++) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
      FIXED_LITERALS = new Huffman(lengths, 288);
      var distances = new Uint8Array(30);
      distances.fill(5);
      FIXED_DISTANCES = new Huffman(distances, 30);
    }
  }

  function Inflater(input, limit) {
    this.input = input;
    this.pos = 0;
    this.bitBuffer = 0;
    this.bitCount = 0;
    this.output = new Uint8Array(limit);
    this.length = 0;
    this.limit = limit;
  }

  Inflater.prototype.bits = function (need) {
    var value = this.bitBuffer;
    while (this.bitCount < need) {
      if (this.pos >= this.input.length) {
        throw ProtocolError("compressed payload is truncated");
      }
      value |= this.input[this.pos++] << this.bitCount;
      this.bitCount += 8;
    }
    this.bitBuffer = value >>> need;
    this.bitCount -= need;
    return value & ((1 << need) - 1);
  };

  Inflater.prototype.decodeSymbol = function (huffman) {
    var code = 0;
    var first = 0;
    var index = 0;
    for (var len = 1; len < 16; len++) {
      code |= this.bits(1);
      var count = huffman.counts[len];
      if (code - count < first) return huffman.symbols[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw ProtocolError("payload does not inflate: invalid code");
  };

  Inflater.prototype.put = function (byte) {
    if (this.length >= this.limit) {
      throw ProtocolError("payload inflates to more than the " + this.limit +
        " bytes its grid allows");
    }
    this.output[this.length++] = byte;
  };

  Inflater.prototype.stored = function () {
    this.bitBuffer = 0;
    this.bitCount = 0;
    if (this.pos + 4 > this.input.length) throw ProtocolError("compressed payload is truncated");
    var input = this.input;
    var len = input[this.pos] | (input[this.pos + 1] << 8);
    var nlen = input[this.pos + 2] | (input[this.pos + 3] << 8);
    this.pos += 4;
    if (len !== (~nlen & 0xffff)) throw ProtocolError("payload does not inflate: bad stored block");
    if (this.pos + len > input.length) throw ProtocolError("compressed payload is truncated");
    for (var i = 0; i < len; i++) this.put(input[this.pos++]);
  };

  Inflater.prototype.codes = function (literals, distances) {
    for (;;) {
      var symbol = this.decodeSymbol(literals);
      if (symbol < 256) {
        this.put(symbol);
      } else if (symbol === 256) {
        return;
      } else {
        symbol -= 257;
        if (symbol >= 29) throw ProtocolError("payload does not inflate: bad length code");
        var len = LENGTH_BASE[symbol] + this.bits(LENGTH_EXTRA[symbol]);
        var d = this.decodeSymbol(distances);
        if (d >= 30) throw ProtocolError("payload does not inflate: bad distance code");
        var dist = DIST_BASE[d] + this.bits(DIST_EXTRA[d]);
        if (dist > this.length) throw ProtocolError("payload does not inflate: distance too far back");
        for (var i = 0; i < len; i++) this.put(this.output[this.length - dist]);
      }
    }
  };

  Inflater.prototype.dynamic = function () {
    var nlen = this.bits(5) + 257;
    var ndist = this.bits(5) + 1;
    var ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw ProtocolError("payload does not inflate: bad counts");
    var lengths = new Uint8Array(320);
    var index;
    for (index = 0; index < ncode; index++) lengths[CODE_LENGTH_ORDER[index]] = this.bits(3);
    var lencode = new Huffman(lengths, 19);
    index = 0;
    var all = new Uint8Array(nlen + ndist);
    while (index < nlen + ndist) {
      var symbol = this.decodeSymbol(lencode);
      if (symbol < 16) {
        all[index++] = symbol;
        continue;
      }
      var value = 0;
      var repeat;
      if (symbol === 16) {
        if (index === 0) throw ProtocolError("payload does not inflate: repeat with no length");
        value = all[index - 1];
        repeat = 3 + this.bits(2);
      } else if (symbol === 17) {
        repeat = 3 + this.bits(3);
      } else {
        repeat = 11 + this.bits(7);
      }
      if (index + repeat > nlen + ndist) throw ProtocolError("payload does not inflate: too many lengths");
      while (repeat--) all[index++] = value;
    }
    if (all[256] === 0) throw ProtocolError("payload does not inflate: no end-of-block code");
    this.codes(new Huffman(all.subarray(0, nlen), nlen), new Huffman(all.subarray(nlen), ndist));
  };

  /** Inflate raw DEFLATE, refusing to produce more than `limit` bytes. */
  function inflate(input, limit) {
    var inflater = new Inflater(input, limit);
    var last;
    do {
      last = inflater.bits(1);
      var type = inflater.bits(2);
      if (type === 0) {
        inflater.stored();
      } else if (type === 1) {
        fixedTables();
        inflater.codes(FIXED_LITERALS, FIXED_DISTANCES);
      } else if (type === 2) {
        inflater.dynamic();
      } else {
        throw ProtocolError("payload does not inflate: invalid block type");
      }
    } while (!last);
    if (inflater.pos !== input.length) {
      throw ProtocolError("bytes after the end of the compressed payload");
    }
    return inflater.output.subarray(0, inflater.length);
  }

  // --- messages -------------------------------------------------------------------

  /** Read and check a message's header; returns its fields. */
  function parseHeader(bytes) {
    if (bytes.length && bytes[0] !== VERSION) {
      throw ProtocolError("protocol version " + bytes[0] + ", expected " + VERSION);
    }
    if (bytes.length < HEADER_SIZE) {
      throw ProtocolError("message too short: " + bytes.length + " bytes, header is " + HEADER_SIZE);
    }
    var view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
    var kind = bytes[1];
    var mode = MODES[bytes[2]];
    var flags = bytes[3];
    var cols = view.getUint16(16);
    var rows = view.getUint16(18);
    if (kind !== KEYFRAME && kind !== DELTA) throw ProtocolError("unknown message kind " + kind);
    if (!mode) throw ProtocolError("unknown mode " + bytes[2]);
    if (flags & ~FLAG_DEFLATE) throw ProtocolError("unknown flags " + flags);
    if (cols === 0 || rows === 0 || cols * rows > MAX_CELLS) {
      throw ProtocolError("grid " + cols + "x" + rows + " is empty or over " + MAX_CELLS + " cells");
    }
    return {
      kind: kind === KEYFRAME ? "keyframe" : "delta",
      mode: mode,
      compressed: (flags & FLAG_DEFLATE) !== 0,
      seq: view.getUint32(4),
      ptsMs: view.getUint32(8),
      baseSeq: view.getUint32(12),
      cols: cols,
      rows: rows,
      changed: null,
    };
  }

  function readNumber(data, state) {
    var value = 0;
    for (var k = 0; k < MAX_VARINT_BYTES; k++) {
      if (state.pos >= data.length) throw ProtocolError("delta truncated: expected a run number");
      var byte = data[state.pos++];
      value |= (byte & 0x7f) << (7 * k);
      if (byte < 0x80) return value;
    }
    throw ProtocolError("a run number is longer than " + MAX_VARINT_BYTES + " bytes");
  }

  /** Holds a grid and applies messages to it. A refused message changes nothing. */
  function Decoder() {
    this.planes = null; // one Uint8Array of cols * rows bytes per plane
    this.mode = null;
    this.cols = 0;
    this.rows = 0;
    this.seq = null; // of the message that last changed the grid
  }

  Decoder.prototype.reset = function () {
    this.planes = null;
    this.mode = null;
    this.cols = 0;
    this.rows = 0;
    this.seq = null;
  };

  /** Apply one binary message (ArrayBuffer or Uint8Array); returns its header. */
  Decoder.prototype.decode = function (message) {
    var bytes = message instanceof Uint8Array ? message : new Uint8Array(message);
    var info = parseHeader(bytes);
    var nPlanes = PLANES[info.mode];
    var cells = info.cols * info.rows;
    var body = bytes.subarray(HEADER_SIZE);
    var p;

    if (info.kind === "keyframe") {
      var size = nPlanes * cells;
      var payload = info.compressed ? inflate(body, size) : body;
      if (payload.length !== size) {
        throw ProtocolError("keyframe of a " + info.cols + "x" + info.rows + " " + info.mode +
          " grid needs " + size + " bytes, carries " + payload.length);
      }
      var planes = [];
      for (p = 0; p < nPlanes; p++) planes.push(payload.slice(p * cells, (p + 1) * cells));
      this.planes = planes;
      this.mode = info.mode;
      this.cols = info.cols;
      this.rows = info.rows;
      this.seq = info.seq;
      return info;
    }

    if (this.planes === null) throw OutOfSyncError("a delta before any keyframe: ask for a keyframe");
    var limit = MAX_VARINT_BYTES * (1 + 2 * cells) + nPlanes * cells;
    var data = info.compressed ? inflate(body, limit) : body;
    var state = { pos: 0 };
    var nRuns = readNumber(data, state);
    if (nRuns > cells) throw ProtocolError("delta has " + nRuns + " runs for " + cells + " cells");
    var starts = new Uint32Array(nRuns);
    var lengths = new Uint32Array(nRuns);
    var end = 0;
    var total = 0;
    for (var r = 0; r < nRuns; r++) {
      var start = end + readNumber(data, state);
      var length = readNumber(data, state);
      if (length < 1) throw ProtocolError("delta has an empty run");
      end = start + length;
      if (end > cells) throw ProtocolError("delta runs end at cell " + end + ", grid has " + cells);
      starts[r] = start;
      lengths[r] = length;
      total += length;
    }
    if (data.length - state.pos !== nPlanes * total) {
      throw ProtocolError("delta covers " + total + " cells of " + nPlanes + " planes, carries " +
        (data.length - state.pos) + " bytes for them");
    }
    if (this.mode !== info.mode || this.cols !== info.cols || this.rows !== info.rows) {
      throw OutOfSyncError("delta for a " + info.cols + "x" + info.rows + " " + info.mode +
        " grid, holding a " + this.cols + "x" + this.rows + " " + this.mode + " one: ask for a keyframe");
    }
    if (info.baseSeq !== this.seq) {
      throw OutOfSyncError("delta on top of frame " + info.baseSeq + ", holding frame " + this.seq +
        ": ask for a keyframe");
    }
    var changed = new Uint32Array(total);
    var n = 0;
    for (r = 0; r < nRuns; r++) {
      for (var cell = starts[r]; cell < starts[r] + lengths[r]; cell++) changed[n++] = cell;
    }
    for (p = 0; p < nPlanes; p++) {
      var plane = this.planes[p];
      var offset = state.pos + p * total;
      for (var i = 0; i < total; i++) plane[changed[i]] = data[offset + i];
    }
    if (total > 0) this.seq = info.seq;
    info.changed = changed;
    return info;
  };

  var api = {
    VERSION: VERSION,
    HEADER_SIZE: HEADER_SIZE,
    MODES: MODES,
    PLANES: PLANES,
    PALETTE: PALETTE,
    CSS_COLORS: CSS_COLORS,
    ProtocolError: ProtocolError,
    OutOfSyncError: OutOfSyncError,
    Decoder: Decoder,
    parseHeader: parseHeader,
    inflate: inflate,
  };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.TunerCodec = api;
  }
})(this);

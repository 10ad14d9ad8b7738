/* tuner's web client. Protocol: docs/protocol.rst.
 *
 * Plain ES2017 in one script, no build step: the car's Chromium can be as old as 79,
 * so no optional chaining, no ??, no modules; newer APIs are feature-detected.
 */
(function () {
  "use strict";

  var PROTOCOL = 1;
  var HEADER_SIZE = 14;
  var KIND_MONO_FULL = 1;
  // Monospace glyphs are about 0.6 em wide; the server renders its grid for that aspect.
  var CELL_ASPECT = 0.6;
  var TEXT_COLOUR = "#e6e6e6";
  var FONT_FAMILY = "\"DejaVu Sans Mono\", \"Roboto Mono\", \"Droid Sans Mono\", monospace";
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  // Only a socket that stayed open this long resets the backoff, so a server that accepts
  // and drops at once is not hammered every second.
  var SOCKET_HEALTHY_MS = 5000;
  var STATUS_POLL_MS = 5000;
  var AUDIO_RETRY_MS = 2000;
  var AUDIO_RETRIES = 3;

  function $(id) { return document.getElementById(id); }

  var el = {
    login: $("login"), loginForm: $("login-form"), pin: $("pin"),
    loginButton: $("login-button"), loginMessage: $("login-message"),
    player: $("player"), controls: $("controls"), query: $("query"), preset: $("preset"),
    play: $("play"), stop: $("stop"), sound: $("sound"), logout: $("logout"),
    status: $("status"), message: $("message"), stage: $("stage"), canvas: $("screen"),
    audio: $("audio"), fatal: $("fatal")
  };

  var stats = {
    framesReceived: 0,
    framesDrawn: 0,
    lastSeq: null,
    lastHello: null,
    socketState: "closed",
    // A/V sync: where the clock comes from, and each shown frame's pts minus the clock.
    sync: { source: "none", clockMs: null, late: 0, offsets: [], audioStartMs: null }
  };
  window.tunerStats = stats;

  var clock = new window.TunerSync.Clock(function () { return window.performance.now(); });
  var queue = new window.TunerSync.FrameQueue();
  stats.sync.offsets = queue.offsets;

  var screenName = null;

  /* ---------- HTTP ---------- */

  async function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var response = await fetch(path, init);
    var data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    return { status: response.status, ok: response.ok, data: data };
  }

  function sentence(text) {
    text = String(text).trim();
    if (!text) return "";
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  }

  // The server's errors are {"error": short reason, "detail": what to do}.
  function errorSentence(result, fallback) {
    var data = result.data;
    if (!data || typeof data.error !== "string") return sentence(fallback);
    var detail = data.detail;
    if (detail === null || detail === undefined || detail === "") return sentence(data.error);
    return sentence(data.error + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
  }

  function showMessage(text) { el.message.textContent = text ? sentence(text) : ""; }

  /* ---------- Screens ---------- */

  function showLogin(message) {
    leavePlayer();
    screenName = "login";
    document.body.setAttribute("data-state", "login");
    el.fatal.hidden = true;
    el.player.hidden = true;
    el.login.hidden = false;
    el.loginMessage.textContent = message || "";
    el.pin.value = "";
    el.pin.focus();
  }

  function showPlayer() {
    screenName = "player";
    document.body.setAttribute("data-state", "player");
    el.fatal.hidden = true;
    el.login.hidden = true;
    el.player.hidden = false;
    layout();
    loadPresets();
    startStatusPolling();
    connect();
  }

  function leavePlayer() {
    stopStatusPolling();
    disconnect();
    stopAudio();
  }

  async function boot() {
    var result;
    try {
      result = await api("GET", "/api/status");
    } catch (e) {
      el.fatal.textContent = "Cannot reach tuner. Trying again…";
      el.fatal.hidden = false;
      setTimeout(boot, 3000);
      return;
    }
    if (result.status === 401) {
      showLogin();
    } else if (result.ok && result.data) {
      showPlayer();
      renderStatus(result.data);
    } else {
      el.fatal.textContent = errorSentence(result, "tuner answered HTTP " + result.status);
      el.fatal.hidden = false;
      setTimeout(boot, 5000);
    }
  }

  el.loginForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    el.loginButton.disabled = true;
    el.loginMessage.textContent = "";
    try {
      var result = await api("POST", "/api/login", { pin: el.pin.value.trim() });
      if (result.status === 204) {
        el.pin.value = "";
        showPlayer();
        refreshStatus();
      } else if (result.status === 401) {
        el.loginMessage.textContent = "Wrong PIN";
        el.pin.select();
      } else {
        el.loginMessage.textContent = errorSentence(result, "Login failed (HTTP " + result.status + ")");
      }
    } catch (e) {
      el.loginMessage.textContent = "Cannot reach tuner.";
    } finally {
      el.loginButton.disabled = false;
    }
  });

  el.logout.addEventListener("click", async function () {
    try { await api("POST", "/api/logout"); } catch (e) { /* forget the session here anyway */ }
    showLogin();
  });

  /* ---------- Presets and status ---------- */

  var presetsLoaded = false;
  var PRESET_KEY = "tuner.preset";

  function storedPreset() {
    try { return window.localStorage.getItem(PRESET_KEY); } catch (e) { return null; }
  }

  el.preset.addEventListener("change", function () {
    try { window.localStorage.setItem(PRESET_KEY, el.preset.value); } catch (e) { /* private mode */ }
  });

  async function loadPresets() {
    if (presetsLoaded) return;
    var result;
    try { result = await api("GET", "/api/presets"); } catch (e) { return; }
    if (!result.ok || !result.data || !Array.isArray(result.data.presets)) return;
    presetsLoaded = true;
    el.preset.textContent = "";
    result.data.presets.forEach(function (p) {
      var option = document.createElement("option");
      option.value = p.name;
      option.textContent = p.name + " · " + p.cols + "×" + p.rows + " · " + p.fps + " fps";
      if (p.description) option.title = p.description;
      el.preset.appendChild(option);
    });
    var wanted = storedPreset() || result.data.default_preset;
    el.preset.value = wanted;
    if (el.preset.value !== wanted) el.preset.value = result.data.default_preset;
  }

  var statusTimer = null;
  var statusInFlight = false;

  function startStatusPolling() {
    stopStatusPolling();
    statusTimer = setInterval(function () {
      // Hidden (e.g. in Drive) nobody reads the line; save the LTE bytes.
      if (!document.hidden) refreshStatus();
    }, STATUS_POLL_MS);
  }

  function stopStatusPolling() {
    if (statusTimer !== null) clearInterval(statusTimer);
    statusTimer = null;
  }

  async function refreshStatus() {
    if (statusInFlight || screenName !== "player") return;
    statusInFlight = true;
    try {
      var result = await api("GET", "/api/status");
      if (result.status === 401) {
        showLogin("Your login expired. Enter the PIN again.");
      } else if (result.ok && result.data) {
        renderStatus(result.data);
      }
    } catch (e) {
      el.status.textContent = "offline: cannot reach tuner";
    } finally {
      statusInFlight = false;
    }
  }

  function renderStatus(s) {
    var text = String(s.state);
    if (s.state === "error") {
      text = "error: " + (s.error || "something went wrong");
    } else if (s.state !== "idle") {
      if (s.title) text += ": " + s.title + (s.is_live ? " (live)" : "");
      if (s.preset) text += " · " + s.preset;
    }
    el.status.textContent = text;
    if (s.state === "playing" || s.state === "resolving") setMediaTitle(s.title);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refreshStatus();
  });

  /* ---------- Play and stop ---------- */

  el.controls.addEventListener("submit", async function (event) {
    event.preventDefault();
    var query = el.query.value.trim();
    if (!query) {
      showMessage("Type what to play, or testcard");
      return;
    }
    showMessage("");
    el.play.disabled = true;
    try {
      var body = { query: query };
      if (el.preset.value) body.preset = el.preset.value;
      var result = await api("POST", "/api/play", body);
      if (result.status === 202 && result.data) {
        // Right after the tap, so Chromium's autoplay policy lets the sound start.
        startAudio(result.data.session_id);
        refreshStatus();
      } else if (result.status === 401) {
        showLogin("Your login expired. Enter the PIN again.");
      } else {
        showMessage(errorSentence(result, "Play failed (HTTP " + result.status + ")"));
      }
    } catch (e) {
      showMessage("Cannot reach tuner");
    } finally {
      el.play.disabled = false;
    }
  });

  el.stop.addEventListener("click", async function () {
    stopAudio();
    try {
      var result = await api("POST", "/api/stop");
      if (result.status === 401) {
        showLogin("Your login expired. Enter the PIN again.");
        return;
      }
      if (!result.ok) showMessage(errorSentence(result, "Stop failed (HTTP " + result.status + ")"));
    } catch (e) {
      showMessage("Cannot reach tuner");
    }
    refreshStatus();
  });

  /* ---------- Sound ---------- */

  var audioSession = null;
  var audioRetriesLeft = AUDIO_RETRIES;
  var mediaTitle = null;
  // "playing" (its clock leads the picture), "loading" (about to), or "off".
  var audioState = "off";
  // Names this page's audio stream, so the server can say where it starts.
  var listenerToken = null;

  function setAudioState(state) {
    audioState = state;
    scheduleDraw();
  }

  function startAudio(sessionId) {
    if (!sessionId || sessionId === audioSession) return;
    audioSession = sessionId;
    audioRetriesLeft = AUDIO_RETRIES;
    setMediaTitle(null);
    loadAudio();
  }

  function loadAudio() {
    // A new URL per session: /audio ends with its session and must be asked for again.
    listenerToken = Math.random().toString(36).slice(2, 14) || "l";
    clock.audioLoading();
    setAudioState("loading");
    el.audio.src = "/audio?session=" + encodeURIComponent(audioSession) +
      "&listener=" + encodeURIComponent(listenerToken);
    playAudio();
  }

  function playAudio() {
    var promise;
    try {
      promise = el.audio.play();
    } catch (e) {
      el.sound.hidden = false;
      return;
    }
    if (promise && typeof promise.then === "function") {
      promise.then(function () {
        el.sound.hidden = true;
      }, function (err) {
        // AbortError only means a newer src or a pause replaced this play().
        if (!err || err.name !== "AbortError") {
          el.sound.hidden = false;
          setAudioState("off");
        }
      });
    }
  }

  function stopAudio() {
    audioSession = null;
    listenerToken = null;
    setAudioState("off");
    el.sound.hidden = true;
    el.audio.pause();
    // Without a src the element drops its connection to /audio.
    el.audio.removeAttribute("src");
    el.audio.load();
  }

  el.sound.addEventListener("click", playAudio);
  el.audio.addEventListener("playing", function () {
    el.sound.hidden = true;
    audioRetriesLeft = AUDIO_RETRIES;
    setAudioState("playing");
  });
  // Out of data (a tunnel) or paused: its clock stands still, so the wall clock runs.
  el.audio.addEventListener("waiting", function () {
    if (audioState === "playing") setAudioState("off");
  });
  el.audio.addEventListener("pause", function () { setAudioState("off"); });

  // The stream can break (an LTE tunnel) while its session goes on: ask for it again,
  // but not forever when it never plays (a codec this browser lacks, a refused request).
  function audioInterrupted() {
    var sessionId = audioSession;
    if (!sessionId || audioRetriesLeft <= 0) return;
    audioRetriesLeft--;
    setTimeout(function () {
      if (sessionId === audioSession && sessionId === activeSession) loadAudio();
    }, AUDIO_RETRY_MS);
  }
  el.audio.addEventListener("error", function () { setAudioState("off"); audioInterrupted(); });
  el.audio.addEventListener("ended", function () { setAudioState("off"); audioInterrupted(); });

  function setMediaTitle(title) {
    if (!("mediaSession" in navigator && window.MediaMetadata)) return;
    var wanted = title || "tuner";
    if (wanted === mediaTitle) return;
    mediaTitle = wanted;
    try {
      navigator.mediaSession.metadata = new window.MediaMetadata({ title: wanted, artist: "tuner" });
    } catch (e) { /* metadata is a nicety */ }
  }

  if ("mediaSession" in navigator && navigator.mediaSession.setActionHandler) {
    try {
      navigator.mediaSession.setActionHandler("play", playAudio);
      navigator.mediaSession.setActionHandler("pause", function () { el.audio.pause(); });
    } catch (e) { /* an action this browser does not know */ }
  }

  /* ---------- Video socket ---------- */

  var socket = null;
  var wantSocket = false;
  var backoffMs = BACKOFF_FIRST_MS;
  var reconnectTimer = null;
  var activeSession = null;
  var statusOnFirstFrame = false;

  function setSocketState(state) { stats.socketState = state; }

  function connect() {
    wantSocket = true;
    if (socket || reconnectTimer !== null) return;
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(scheme + "//" + location.host + "/ws/video");
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    socket = ws;
    setSocketState("connecting");
    var openedAt = null;
    ws.onopen = function () {
      if (socket !== ws) return;
      openedAt = Date.now();
      setSocketState("open");
    };
    ws.onmessage = function (event) {
      if (socket !== ws) return;
      if (typeof event.data === "string") onControl(event.data);
      else onFrame(event.data);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      setSocketState("closed");
      if (!wantSocket) return;
      if (openedAt !== null && Date.now() - openedAt >= SOCKET_HEALTHY_MS) {
        backoffMs = BACKOFF_FIRST_MS;
      }
      scheduleReconnect();
      if (event.code === 1001) {
        // Going away: a status call now would only fail; the next poll or hello updates it.
        el.status.textContent = "tuner is restarting…";
      } else {
        // A refused handshake (expired login) also looks like a close; the status call tells.
        refreshStatus();
      }
    };
  }

  function scheduleReconnect() {
    var delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    setSocketState("waiting");
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      if (wantSocket) connect();
    }, delay);
  }

  function disconnect() {
    wantSocket = false;
    if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (socket) {
      var ws = socket;
      socket = null;
      ws.close(1000);
    }
    activeSession = null;
    setSocketState("closed");
  }

  // Out of a tunnel: do not wait out the backoff.
  window.addEventListener("online", function () {
    if (wantSocket && reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      backoffMs = BACKOFF_FIRST_MS;
      connect();
    }
  });

  function onControl(text) {
    var message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (!message || typeof message.type !== "string") return;
    if (message.type === "hello") onHello(message);
    else if (message.type === "end") onEnd(message);
    else if (message.type === "audio") onAudioClock(message);
  }

  function onHello(hello) {
    if (hello.protocol !== PROTOCOL) {
      disconnect();
      showMessage("This tuner speaks protocol " + hello.protocol + " and this page only " +
        PROTOCOL + ". Reload the page");
      return;
    }
    stats.lastHello = hello;
    if (hello.session_id !== activeSession) {
      // A new session starts its own clock: nothing of the old one may be shown.
      queue.clear();
      clock.reset();
      shownInSession = false;
    }
    activeSession = hello.session_id;
    statusOnFirstFrame = true;
    setGrid(hello.cols, hello.rows);
    startAudio(hello.session_id);
    refreshStatus();
  }

  function onAudioClock(message) {
    if (message.listener === listenerToken && typeof message.start_ms === "number") {
      clock.setAudioStart(message.start_ms);
      scheduleDraw();
    }
  }

  function onEnd(end) {
    if (end.session_id === activeSession) activeSession = null;
    if (end.reason === "error" && end.error) showMessage(end.error);
    refreshStatus();
  }

  /* ---------- Frames and the canvas ---------- */

  var ctx = el.canvas.getContext("2d", { alpha: false });
  var decoder = new TextDecoder("ascii");
  var grid = { cols: 0, rows: 0 };
  var cell = null; // { w, h, scaleX } in device pixels, null until laid out
  var shown = null;
  var shownInSession = false;
  var drawScheduled = false;

  function onFrame(buffer) {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER_SIZE) return;
    var view = new DataView(buffer);
    if (view.getUint8(0) !== PROTOCOL || view.getUint8(1) !== KIND_MONO_FULL) return;
    var cols = view.getUint16(10);
    var rows = view.getUint16(12);
    if (cols === 0 || rows === 0 || buffer.byteLength !== HEADER_SIZE + cols * rows) return;
    stats.framesReceived++;
    stats.lastSeq = view.getUint32(2);
    if (statusOnFirstFrame) {
      // The first picture means the session left "resolving": show that now, not at the next poll.
      statusOnFirstFrame = false;
      refreshStatus();
    }
    // Frames wait in the queue for the clock to reach them (see sync.js).
    var frame = {
      seq: stats.lastSeq,
      ptsMs: view.getUint32(6),
      cols: cols,
      rows: rows,
      cells: new Uint8Array(buffer, HEADER_SIZE)
    };
    queue.push(frame);
    // For measurements (tests/web/avprobe.js): when each frame arrived.
    var hooks = window.tunerHooks;
    if (hooks && typeof hooks.onFrame === "function") hooks.onFrame(frame);
    scheduleDraw();
  }

  function scheduleDraw() {
    if (drawScheduled) return;
    drawScheduled = true;
    window.requestAnimationFrame(drawDue);
  }

  function drawDue() {
    drawScheduled = false;
    var audio = { state: audioState, currentTime: el.audio.currentTime };
    var t = clock.read(audio, queue.firstPts());
    var frame = queue.take(t);
    var source = clock.source;
    if (!frame && !shownInSession && queue.frames.length) {
      // Waiting for the sound: hold the session's first picture rather than a blank.
      frame = queue.frames[0];
      source = "held";
    }
    stats.sync.source = clock.source;
    stats.sync.clockMs = t;
    stats.sync.late = queue.late;
    stats.sync.audioStartMs = clock.audioStartMs;
    if (frame && frame !== shown) {
      shown = frame;
      shownInSession = true;
      setGrid(frame.cols, frame.rows);
      if (paint(frame)) stats.framesDrawn++;
      var hooks = window.tunerHooks;
      if (hooks && typeof hooks.onDraw === "function") hooks.onDraw(frame, t, source);
    }
    if (queue.frames.length) scheduleDraw();
  }

  function setGrid(cols, rows) {
    if (!(cols > 0 && rows > 0) || (cols === grid.cols && rows === grid.rows)) return;
    grid = { cols: cols, rows: rows };
    if (shown && (shown.cols !== cols || shown.rows !== rows)) shown = null;
    layout();
  }

  function layout() {
    if (!grid.cols || el.player.hidden) return;
    var box = el.stage.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) return;
    var dpr = window.devicePixelRatio || 1;
    var cssCellH = Math.min(box.height / grid.rows, box.width / (grid.cols * CELL_ASPECT));
    // Whole device pixels per row put every row on the pixel grid, which keeps text sharp.
    var h = Math.max(1, Math.floor(cssCellH * dpr));
    var w = h * CELL_ASPECT;
    var canvas = el.canvas;
    canvas.width = Math.round(w * grid.cols);
    canvas.height = h * grid.rows;
    var cssW = canvas.width / dpr;
    var cssH = canvas.height / dpr;
    canvas.style.width = cssW + "px";
    canvas.style.height = cssH + "px";
    canvas.style.left = Math.floor((box.width - cssW) / 2) + "px";
    canvas.style.top = Math.floor((box.height - cssH) / 2) + "px";
    // Resizing a canvas resets its context state.
    ctx.font = h + "px " + FONT_FAMILY;
    ctx.textBaseline = "middle";
    var advance = ctx.measureText("M").width;
    // Stretch or squeeze the font horizontally so a row is exactly as wide as its cells.
    cell = { w: w, h: h, scaleX: advance > 0 ? w / advance : 1 };
    if (shown) paint(shown);
    else clear();
  }

  function clear() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, el.canvas.width, el.canvas.height);
  }

  function paint(frame) {
    if (!cell) return false;
    clear();
    ctx.setTransform(cell.scaleX, 0, 0, 1, 0, 0);
    ctx.fillStyle = TEXT_COLOUR;
    var cols = frame.cols;
    for (var r = 0; r < frame.rows; r++) {
      var row = decoder.decode(frame.cells.subarray(r * cols, (r + 1) * cols));
      ctx.fillText(row, 0, (r + 0.5) * cell.h);
    }
    return true;
  }

  if (window.ResizeObserver) {
    new window.ResizeObserver(function () { layout(); }).observe(el.stage);
  } else {
    window.addEventListener("resize", layout);
  }

  boot();
})();

/* tuner's web client. Protocol: docs/protocol.rst.
 *
 * Plain ES2019, no build step: the car's Chromium can be as old as 79, so no
 * optional chaining, no ??, no modules; newer APIs are feature-detected.
 *
 * Frames arrive as protocol v2 keyframes and deltas (codec.js), wait in a queue for
 * the audio clock (sync.js), and are drawn by renderer.js, which redraws only the
 * cells that changed. Every message is decoded in order, also those that are never
 * drawn (late ones): a delta applies only on top of the one before it.
 */
(function () {
  "use strict";

  var PROTOCOL = window.TunerCodec.VERSION;
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  // Only a socket that stayed open this long resets the backoff, so a server that accepts
  // and drops at once is not hammered every second.
  var SOCKET_HEALTHY_MS = 5000;
  var STATUS_POLL_MS = 5000;
  var AUDIO_RETRY_MS = 2000;
  var AUDIO_RETRIES = 3;
  // How often the server hears how drawing keeps up (adaptive quality).
  var REPORT_MS = 2000;
  // After the page was hidden (no drawing at all), frames pile up: not a slow client.
  var REPORT_PAUSE_AFTER_HIDDEN_MS = 3000;
  // At most one keyframe request this often: the first answer fixes every later delta.
  var KEYFRAME_ASK_MS = 1000;

  function $(id) { return document.getElementById(id); }

  var el = {
    login: $("login"), loginForm: $("login-form"), pin: $("pin"),
    loginButton: $("login-button"), loginMessage: $("login-message"),
    player: $("player"), controls: $("controls"), query: $("query"), preset: $("preset"),
    mode: $("mode"), quality: $("quality"),
    play: $("play"), stop: $("stop"), sound: $("sound"), logout: $("logout"),
    status: $("status"), message: $("message"), stage: $("stage"), canvas: $("screen"),
    audio: $("audio"), fatal: $("fatal")
  };

  var stats = {
    framesReceived: 0,
    framesDrawn: 0,
    bytesReceived: 0,
    keyframes: 0,
    decodeErrors: 0,
    keyframesAsked: 0,
    reportsSent: 0,
    lastSeq: null,
    lastHello: null,
    lastReport: null,
    renderer: null,
    socketState: "closed",
    // A/V sync: where the clock comes from, and each shown frame's pts minus the clock.
    sync: { source: "none", clockMs: null, late: 0, offsets: [], audioStartMs: null }
  };
  window.tunerStats = stats;

  var clock = new window.TunerSync.Clock(function () { return window.performance.now(); });
  // Frames that leave the queue unseen are decoded all the same (see the top).
  var queue = new window.TunerSync.FrameQueue(decodeFrame);
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
  var presetsByName = {};
  var PRESET_KEY = "tuner.preset";
  var MODE_KEY = "tuner.mode";

  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function store(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  // During a session a new preset or mode applies at once, from where the picture is.
  function pickerChanged(key, select) {
    store(key, select.value);
    if (activeSession === null) return;
    var body = {};
    body[key === PRESET_KEY ? "preset" : "mode"] = select.value;
    api("POST", "/api/tune", body).then(function (result) {
      if (result.ok && result.data) renderStatus(result.data);
      else if (result.status === 401) showLogin("Your login expired. Enter the PIN again.");
      else if (result.status !== 409) showMessage(errorSentence(result, "Could not change it"));
    }, function () { showMessage("Cannot reach tuner"); });
  }

  el.preset.addEventListener("change", function () { pickerChanged(PRESET_KEY, el.preset); });
  el.mode.addEventListener("change", function () { pickerChanged(MODE_KEY, el.mode); });

  function fillPicker(select, items, key, fallback) {
    select.textContent = "";
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.value;
      option.textContent = item.label;
      if (item.title) option.title = item.title;
      select.appendChild(option);
    });
    var wanted = stored(key) || fallback;
    select.value = wanted;
    if (select.value !== wanted) select.value = fallback;
  }

  async function loadPresets() {
    if (presetsLoaded) return;
    var result;
    try { result = await api("GET", "/api/presets"); } catch (e) { return; }
    var data = result.data;
    if (!result.ok || !data || !Array.isArray(data.presets) || !Array.isArray(data.modes)) return;
    presetsLoaded = true;
    data.presets.forEach(function (p) { presetsByName[p.name] = p; });
    fillPicker(el.preset, data.presets.map(function (p) {
      return { value: p.name, label: p.name + " · " + p.cols + "×" + p.rows + " · " + p.fps + " fps",
        title: p.description };
    }), PRESET_KEY, data.default_preset);
    fillPicker(el.mode, data.modes.map(function (m) { return { value: m, label: m }; }),
      MODE_KEY, data.default_mode);
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
    }
    el.status.textContent = text;
    renderQuality(s);
    if (s.state === "playing" || s.state === "resolving") setMediaTitle(s.title);
  }

  // What the picture runs at; "auto" when adaptive quality stepped it down.
  function renderQuality(s) {
    if (s.state === "idle" || s.state === "error" || !s.preset) {
      el.quality.textContent = "";
      return;
    }
    var text = s.preset + " · " + s.fps + " fps · " + s.mode;
    var own = presetsByName[s.preset];
    if (s.chosen_preset !== s.preset || (own && own.fps !== s.fps)) {
      text += " (auto, for " + s.chosen_preset + ")";
    }
    el.quality.textContent = text;
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refreshStatus();
      pauseReports(REPORT_PAUSE_AFTER_HIDDEN_MS);
    }
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
      if (el.mode.value) body.mode = el.mode.value;
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
      } else if (event.code === 1013) {
        // The daemon is at its limit of viewers; the reason says how many.
        el.status.textContent = "Cannot show the picture: " + event.reason + ". Retrying…";
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
      // A new session starts its own clock: nothing of the old one may be shown. Its
      // first frame is a keyframe.
      queue.clear();
      clock.reset();
      shownInSession = false;
      statusOnFirstFrame = true;
    }
    // Also a retune (the same session at another preset or mode): its frames come
    // after a keyframe; the report window starts again with the new grid.
    activeSession = hello.session_id;
    resetReport();
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

  var renderer = new window.TunerRenderer.Renderer(el.canvas, {});
  var decoder = new window.TunerCodec.Decoder();
  stats.renderer = renderer.stats;
  var shown = null;
  var shownInSession = false;
  var drawScheduled = false;
  // After a refused message, deltas cannot apply until a keyframe comes.
  var awaitingKeyframe = false;
  var keyframeAskedAt = -Infinity;

  function onFrame(buffer) {
    if (!(buffer instanceof ArrayBuffer)) return;
    var bytes = new Uint8Array(buffer);
    var info;
    try {
      info = window.TunerCodec.parseHeader(bytes);
    } catch (e) {
      decodeFailed(e);
      return;
    }
    stats.framesReceived++;
    stats.bytesReceived += bytes.length;
    stats.lastSeq = info.seq;
    if (info.kind === "keyframe") stats.keyframes++;
    if (statusOnFirstFrame) {
      // The first picture means the session left "resolving": show that now, not at the next poll.
      statusOnFirstFrame = false;
      refreshStatus();
    }
    // Frames wait in the queue for the clock to reach them (see sync.js).
    var frame = {
      seq: info.seq,
      ptsMs: info.ptsMs,
      kind: info.kind,
      mode: info.mode,
      cols: info.cols,
      rows: info.rows,
      message: bytes,
      decoded: false
    };
    queue.push(frame);
    // For measurements (tests/web/avprobe.js): when each frame arrived.
    var hooks = window.tunerHooks;
    if (hooks && typeof hooks.onFrame === "function") hooks.onFrame(frame);
    scheduleDraw();
  }

  // Apply a frame's message to the decoder's grid, once, in arrival order.
  function decodeFrame(frame) {
    if (frame.decoded) return;
    frame.decoded = true;
    if (awaitingKeyframe && frame.kind !== "keyframe") return;
    try {
      decoder.decode(frame.message);
      awaitingKeyframe = false;
    } catch (e) {
      decodeFailed(e);
    }
    frame.message = null; // the grid has it now
  }

  function decodeFailed(error) {
    stats.decodeErrors++;
    awaitingKeyframe = true;
    var now = window.performance.now();
    if (now - keyframeAskedAt < KEYFRAME_ASK_MS) return;
    keyframeAskedAt = now;
    if (sendControl({ type: "keyframe" })) stats.keyframesAsked++;
    if (window.console) window.console.warn("tuner: " + error.message + "; asked for a keyframe");
  }

  function sendControl(message) {
    if (!socket || socket.readyState !== 1) return false;
    try { socket.send(JSON.stringify(message)); } catch (e) { return false; }
    return true;
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
      decodeFrame(frame);
      if (decoder.planes && !awaitingKeyframe) {
        shownInSession = true;
        var started = window.performance.now();
        renderer.draw(decoder, false);
        report.drawMs.push(window.performance.now() - started);
        placeCanvas();
        stats.framesDrawn++;
        var hooks = window.tunerHooks;
        if (hooks && typeof hooks.onDraw === "function") hooks.onDraw(frame, t, source, decoder);
      }
    }
    if (queue.frames.length) scheduleDraw();
  }

  function placeCanvas() {
    var l = renderer.layout;
    if (!l) return;
    el.canvas.style.left = l.left + "px";
    el.canvas.style.top = l.top + "px";
  }

  function layout() {
    if (el.player.hidden) return;
    var box = el.stage.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) return;
    renderer.fit(box.width, box.height, window.devicePixelRatio || 1);
    placeCanvas();
  }

  if (window.ResizeObserver) {
    new window.ResizeObserver(function () { layout(); }).observe(el.stage);
  } else {
    window.addEventListener("resize", layout);
  }

  /* ---------- Adaptive quality: how drawing keeps up ---------- */

  // One report window: draw times, and the late count when it started.
  var report = { drawMs: [], late: 0, pausedUntil: 0 };

  function resetReport() {
    report.drawMs = [];
    report.late = queue.late;
  }

  function pauseReports(ms) {
    report.pausedUntil = window.performance.now() + ms;
    resetReport();
  }

  function percentile(values, share) {
    if (!values.length) return 0;
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
  }

  setInterval(function () {
    var late = queue.late - report.late;
    var drawn = report.drawMs.length;
    var quiet = document.hidden || window.performance.now() < report.pausedUntil;
    if (!quiet && activeSession !== null && drawn + late > 0) {
      var message = { type: "stats", frames: drawn, late: late,
        render_ms: Math.round(percentile(report.drawMs, 0.9) * 100) / 100 };
      if (sendControl(message)) {
        stats.reportsSent++;
        stats.lastReport = message;
      }
    }
    resetReport();
  }, REPORT_MS);

  boot();
})();

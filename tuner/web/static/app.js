/* tuner's web client. Protocol: docs/protocol.rst.
 *
 * Plain ES2019, no build step: the car's Chromium can be as old as 79, so no
 * optional chaining, no ??, no modules; newer APIs are feature-detected (fullscreen,
 * media session, its position state) and the page works without them.
 *
 * Three screens, named by body[data-state]: "login" (the PIN keypad), "home"
 * (search, streams, queue and history: search.js, streams.js, queue.js) and "player"
 * (the canvas and its controls). The video socket is open only while the player is
 * shown; the sound goes on behind the home screen, as in any music app.
 *
 * Frames arrive as protocol v2 keyframes and deltas (codec.js), wait in a queue for
 * the audio clock (sync.js), and are drawn by renderer.js, which redraws only the
 * cells that changed. Every message is decoded in order, also those that are never
 * drawn (late ones): a delta applies only on top of the one before it.
 *
 * What the other scripts use: window.tunerApp.start(method, path, body, what) starts
 * a session (and shows the player), .notice(text, retry) shows an error with a
 * retry, .withPicker(body) adds the chosen preset and mode.
 */
(function () {
  "use strict";

  var PROTOCOL = window.TunerCodec.VERSION;
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  // Only a socket that stayed open this long resets the backoff, so a server that accepts
  // and drops at once is not hammered every second.
  var SOCKET_HEALTHY_MS = 5000;
  // The events socket brings every change; this poll only catches what it cannot say
  // (a login that expired) and costs the LTE link little.
  var STATUS_POLL_MS = 15000;
  var AUDIO_RETRY_MS = 2000;
  var AUDIO_RETRIES = 3;
  // How often the server hears how drawing keeps up (adaptive quality).
  var REPORT_MS = 2000;
  // After the page was hidden (no drawing at all), frames pile up: not a slow client.
  var REPORT_PAUSE_AFTER_HIDDEN_MS = 3000;
  // At most one keyframe request this often: the first answer fixes every later delta.
  var KEYFRAME_ASK_MS = 1000;
  var ARTWORK = "/static/icon.png";
  var EXPIRED = "Your login expired. Enter the PIN again.";

  function $(id) { return document.getElementById(id); }

  var el = {
    login: $("login"), loginForm: $("login-form"), pin: $("pin"), keypad: $("keypad"),
    loginButton: $("login-button"), loginMessage: $("login-message"),
    home: $("home"), now: $("now"), nowTitle: $("now-title"), nowBadge: $("now-badge"),
    logout: $("logout"), query: $("query"), play: $("play"),
    player: $("player"), back: $("back"), title: $("title"), channel: $("channel"),
    liveBadge: $("live-badge"), time: $("time"), stageStatus: $("stage-status"),
    preset: $("preset"), mode: $("mode"), quality: $("quality"), status: $("status"),
    stop: $("stop"), replay: $("replay"), next: $("next"), fullscreen: $("fullscreen"),
    sound: $("sound"), stage: $("stage"), canvas: $("screen"),
    notice: $("notice"), message: $("message"), retry: $("retry"), dismiss: $("dismiss"),
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
    audioLoads: 0,
    // A/V sync: where the clock comes from, and each shown frame's pts minus the clock.
    sync: { source: "none", clockMs: null, late: 0, offsets: [], audioStartMs: null }
  };
  window.tunerStats = stats;

  var clock = new window.TunerSync.Clock(function () { return window.performance.now(); });
  // Frames that leave the queue unseen are decoded all the same (see the top).
  var queue = new window.TunerSync.FrameQueue(decodeFrame);
  stats.sync.offsets = queue.offsets;

  var screenName = null;
  // The last status, from /api/status or a "session" event.
  var current = { state: "idle", session_id: null };

  /* ---------- HTTP and words ---------- */

  var api = window.tunerPage.send;

  function sentence(text) {
    text = String(text).trim();
    if (!text) return "";
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?…]$/.test(text) ? text : text + ".";
  }

  // The server's errors are {"error": short reason, "detail": what to do}.
  function errorSentence(result, fallback) {
    var data = result.data;
    if (!data || typeof data.error !== "string") return sentence(fallback);
    return sentence(window.tunerPage.errorText(result, fallback));
  }

  var formatDuration = window.tunerPage.duration;

  /* ---------- The notice: an error as a sentence, with a retry ---------- */

  var retryAction = null;

  function notice(text, retry) {
    retryAction = retry || null;
    el.message.textContent = text ? sentence(text) : "";
    el.retry.hidden = !retryAction;
    el.notice.hidden = !text;
  }


  el.retry.addEventListener("click", function () {
    var again = retryAction;
    notice("");
    if (again) again();
  });
  el.dismiss.addEventListener("click", function () { notice(""); });

  /* ---------- Screens ---------- */

  function setScreen(name) {
    screenName = name;
    el.login.hidden = name !== "login";
    el.home.hidden = name !== "home";
    el.player.hidden = name !== "player";
    el.fatal.hidden = true;
    document.body.setAttribute("data-state", name);
  }

  function showLogin(message) {
    disconnect();
    stopAudio();
    stopStatusPolling();
    notice("");
    setScreen("login");
    el.loginMessage.textContent = message || "";
    el.pin.value = "";
    el.pin.focus();
  }

  function showHome() {
    var was = screenName;
    setScreen("home");
    disconnect();
    loadPresets();
    startStatusPolling();
    renderStatus(current);
    if (was !== "player") el.query.focus();
  }

  function showPlayer() {
    setScreen("player");
    loadPresets();
    startStatusPolling();
    renderStatus(current);
    layout();
    connect();
  }

  function running(s) { return s.state !== "idle" && s.state !== "error"; }

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
      current = result.data;
      // Opened while something plays (a reload, a second device): straight to the picture.
      if (running(current)) showPlayer(); else showHome();
    } else {
      el.fatal.textContent = errorSentence(result, "tuner answered HTTP " + result.status);
      el.fatal.hidden = false;
      setTimeout(boot, 5000);
    }
  }

  /* ---------- Login: the keypad ---------- */

  el.keypad.addEventListener("click", function (event) {
    var key = event.target && event.target.getAttribute ? event.target.getAttribute("data-key") : null;
    if (!key) return;
    if (key === "back") el.pin.value = el.pin.value.slice(0, -1);
    else if (key === "clear") el.pin.value = "";
    else if (el.pin.value.length < 64) el.pin.value += key;
    el.loginMessage.textContent = "";
  });

  el.loginForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    var pin = el.pin.value.trim();
    if (!pin) {
      el.loginMessage.textContent = "Type the PIN first.";
      return;
    }
    el.loginButton.disabled = true;
    el.loginMessage.textContent = "";
    try {
      var result = await api("POST", "/api/login", { pin: pin });
      if (result.status === 204) {
        el.pin.value = "";
        boot();
      } else if (result.status === 401) {
        el.loginMessage.textContent = "Wrong PIN";
        el.pin.value = "";
      } else {
        el.loginMessage.textContent = errorSentence(result, "Login failed (HTTP " + result.status + ")");
      }
    } catch (e) {
      el.loginMessage.textContent = "Cannot reach tuner. Check the connection and try again.";
    } finally {
      el.loginButton.disabled = false;
    }
  });

  el.logout.addEventListener("click", async function () {
    try { await api("POST", "/api/logout"); } catch (e) { /* forget the session here anyway */ }
    showLogin();
  });

  el.now.addEventListener("click", showPlayer);
  el.back.addEventListener("click", showHome);

  /* ---------- Presets and modes ---------- */

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

  function withPicker(body) {
    if (el.preset.value) body.preset = el.preset.value;
    if (el.mode.value) body.mode = el.mode.value;
    return body;
  }

  // During a session a new preset or mode applies at once, from where the picture is.
  function pickerChanged(key, select) {
    store(key, select.value);
    if (!running(current)) return;
    var body = {};
    body[key === PRESET_KEY ? "preset" : "mode"] = select.value;
    api("POST", "/api/tune", body).then(function (result) {
      if (result.ok && result.data) renderStatus(result.data);
      else if (result.status === 401) showLogin(EXPIRED);
      else if (result.status !== 409) {
        notice(errorSentence(result, "Could not change it"), function () { pickerChanged(key, select); });
      }
    }, function () { notice("Cannot reach tuner.", function () { pickerChanged(key, select); }); });
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
    if (running(current)) showPickers(current);
  }

  // The pickers show what plays (also when another device chose it).
  function showPickers(s) {
    if (s.chosen_preset && presetsByName[s.chosen_preset]) el.preset.value = s.chosen_preset;
    if (s.mode) {
      el.mode.value = s.mode;
      if (el.mode.value !== s.mode) el.mode.value = stored(MODE_KEY) || el.mode.value;
    }
  }

  /* ---------- Status ---------- */

  var statusTimer = null;
  var statusInFlight = false;

  function startStatusPolling() {
    if (statusTimer !== null) return;
    statusTimer = setInterval(function () {
      // Hidden (e.g. in Drive) nobody reads it; save the LTE bytes.
      if (!document.hidden) refreshStatus();
    }, STATUS_POLL_MS);
  }

  function stopStatusPolling() {
    if (statusTimer !== null) clearInterval(statusTimer);
    statusTimer = null;
  }

  async function refreshStatus() {
    if (statusInFlight || screenName === "login" || screenName === null) return;
    statusInFlight = true;
    try {
      var result = await api("GET", "/api/status");
      if (result.status === 401) showLogin(EXPIRED);
      else if (result.ok && result.data) renderStatus(result.data);
    } catch (e) {
      el.status.textContent = "offline: cannot reach tuner";
    } finally {
      statusInFlight = false;
    }
  }

  // A session's error is told once, with a retry that plays the same thing again.
  var toldError = null;

  // Right after this page started a session, an older status (from the socket or a
  // poll already under way) must not stop its sound: such news is dropped for a while.
  var pendingSession = null;
  var pendingUntil = 0;

  function renderStatus(s) {
    if (pendingSession !== null) {
      if (s.session_id === pendingSession || Date.now() > pendingUntil) pendingSession = null;
      else return;
    }
    var previous = current;
    current = s;
    if (s.query && s.state !== "idle") lastPlayed = { query: s.query, title: s.title || s.query };
    var text = String(s.state);
    if (s.state === "error") {
      text = "error: " + (s.error || "something went wrong");
    } else if (s.state === "idle") {
      text = "idle";
    } else if (s.title) {
      text += ": " + s.title + (s.is_live ? " (live)" : "");
    }
    el.status.textContent = text;
    renderQuality(s);

    var on = running(s);
    var title = s.title || s.query || "";
    el.title.textContent = on || s.state === "error" ? title : "Nothing is playing";
    el.channel.textContent = on && s.channel ? s.channel : "";
    el.liveBadge.hidden = !(on && s.is_live);
    el.now.hidden = !on;
    el.nowTitle.textContent = title;
    el.nowBadge.hidden = !s.is_live;
    el.stop.hidden = !on;
    el.replay.hidden = on || !lastPlayed;
    showStageText();
    if (!on) { el.time.textContent = ""; shownPtsMs = null; }
    if (on) showPickers(s);

    if (s.state === "error" && s.session_id !== toldError) {
      toldError = s.session_id;
      notice("Could not play " + (title || "it") + ": " + (s.error || "something went wrong"),
        lastPlayed ? replayLast : null);
    }
    if (on && previous.session_id !== s.session_id) notice("");
    if (on && s.session_id) startAudio(s.session_id);
    if (!on && audioSession !== null) stopAudio();
    updateMediaSession(s);
  }

  // What keeps the picture away (the video socket's last close), if anything.
  var videoProblem = "";

  function setVideoProblem(text) {
    videoProblem = text;
    showStageText();
  }

  function showStageText() {
    el.stageStatus.textContent = running(current) && videoProblem ? videoProblem : stageText(current);
  }

  function stageText(s) {
    if (s.state === "resolving") return "Finding " + (s.title || s.query || "it") + "…";
    if (s.state === "reconnecting") return "The stream broke; reconnecting… " + (s.error || "");
    if (s.state === "error") return "";
    if (s.state === "idle") return lastPlayed ? "Stopped." : "Nothing is playing.";
    return "";
  }

  // What the picture runs at; "auto" when adaptive quality stepped it down.
  function renderQuality(s) {
    if (!running(s) || !s.preset) {
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

  // Elapsed time is the session's own clock: the shown frame's pts, and between frames
  // (a still picture sends none) the sync clock.
  var shownPtsMs = null;

  function advanceTime(ms) {
    if (ms === null || (shownPtsMs !== null && ms <= shownPtsMs)) return;
    shownPtsMs = ms;
    renderTime();
  }

  setInterval(function () {
    if (screenName !== "player" || !shownInSession || !running(current)) return;
    advanceTime(clock.read({ state: audioState, currentTime: el.audio.currentTime }, queue.firstPts()));
  }, 500);

  function renderTime() {
    if (shownPtsMs === null || !running(current)) return;
    var text = formatDuration(shownPtsMs / 1000);
    if (current.duration) text += " / " + formatDuration(current.duration);
    if (el.time.textContent !== text) el.time.textContent = text;
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refreshStatus();
      pauseReports(REPORT_PAUSE_AFTER_HIDDEN_MS);
    }
  });

  window.tunerPage.on("session", function (s) {
    if (screenName !== "home" && screenName !== "player") return;
    renderStatus(s);
    // A new events socket (after a drop) starts with this snapshot.
    resumeAudio();
  });

  /* ---------- Starting and stopping ---------- */

  // What played last, to play it again (Play, the car's play key, Try again): its
  // query, however it was started (typed, a result, a queue item, the history).
  var lastPlayed = null;

  // Start a session: POST /api/play, a queue item, a history entry. The player comes
  // up and the sound starts inside the tap's handler chain (autoplay policy).
  async function start(method, path, body, what) {
    var attempt = function () { return start(method, path, body, what); };
    notice("");
    var result;
    try {
      result = await api(method, path, body);
    } catch (e) {
      notice("Cannot reach tuner to " + what + ".", attempt);
      return null;
    }
    if (result.status === 401) {
      showLogin(EXPIRED);
    } else if (result.status === 202 && result.data) {
      pendingSession = result.data.session_id;
      pendingUntil = Date.now() + 5000;
      showPlayer();
      startAudio(result.data.session_id);
      refreshStatus();
    } else {
      notice("Cannot " + what + ": " + errorSentence(result, "HTTP " + result.status), attempt);
    }
    return result;
  }

  function replayLast() {
    if (!lastPlayed) return;
    start("POST", "/api/play", withPicker({ query: lastPlayed.query }),
      "play " + lastPlayed.title);
  }

  el.play.addEventListener("click", function () {
    var query = el.query.value.trim();
    if (!query) {
      notice("Type what to play: words to search, a URL, or testcard.");
      return;
    }
    el.play.disabled = true;
    start("POST", "/api/play", withPicker({ query: query }), "play " + query).then(function () {
      el.play.disabled = false;
    });
  });

  el.replay.addEventListener("click", replayLast);

  async function stop() {
    stopAudio();
    try {
      var result = await api("POST", "/api/stop");
      if (result.status === 401) {
        showLogin(EXPIRED);
        return;
      }
      if (!result.ok) notice(errorSentence(result, "Stop failed (HTTP " + result.status + ")"), stop);
    } catch (e) {
      notice("Cannot reach tuner to stop.", stop);
    }
    refreshStatus();
  }

  el.stop.addEventListener("click", stop);

  /* ---------- Next: the queue's next item ---------- */

  var nextItem = null;

  window.tunerPage.on("queue", function (q) {
    nextItem = null;
    var items = q.items || [];
    for (var i = 0; i < items.length; i++) if (items[i].id === q.next) nextItem = items[i];
    el.next.disabled = !nextItem;
    el.next.title = nextItem ? "Next: " + nextItem.title : "Nothing queued";
    setAction("nexttrack", nextItem ? playNext : null);
  });

  function playNext() {
    if (!nextItem) return;
    start("POST", "/api/queue/" + encodeURIComponent(nextItem.id) + "/play",
      withPicker({}), "play " + nextItem.title);
  }

  el.next.addEventListener("click", playNext);

  /* ---------- Full screen (where the browser has it) ---------- */

  var fullscreen = (function () {
    var d = document;
    var p = el.player;
    if (d.fullscreenEnabled && p.requestFullscreen) {
      return {
        active: function () { return !!d.fullscreenElement; },
        enter: function () { return p.requestFullscreen(); },
        exit: function () { return d.exitFullscreen(); },
        event: "fullscreenchange"
      };
    }
    if (d.webkitFullscreenEnabled && p.webkitRequestFullscreen) {
      return {
        active: function () { return !!d.webkitFullscreenElement; },
        enter: function () { return p.webkitRequestFullscreen(); },
        exit: function () { return d.webkitExitFullscreen(); },
        event: "webkitfullscreenchange"
      };
    }
    return null;
  })();

  if (fullscreen) {
    el.fullscreen.hidden = false;
    el.fullscreen.addEventListener("click", function () {
      try {
        var done = fullscreen.active() ? fullscreen.exit() : fullscreen.enter();
        if (done && typeof done.catch === "function") {
          done.catch(function () { notice("This browser refused full screen."); });
        }
      } catch (e) { notice("This browser refused full screen."); }
    });
    document.addEventListener(fullscreen.event, function () {
      el.fullscreen.textContent = fullscreen.active() ? "Exit full screen" : "Full screen";
      layout();
    });
  }

  /* ---------- Sound ---------- */

  var audioSession = null;
  var audioRetriesLeft = AUDIO_RETRIES;
  // "playing" (its clock leads the picture), "loading" (about to), or "off".
  var audioState = "off";
  // The stream failed or ended while its session goes on: to be asked for again.
  var audioBroken = false;

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
    loadAudio();
  }

  // Back from a drop (a tunnel, a daemon restart) that broke the stream (a short one
  // Chromium bridges itself): the same session's sound again. Not a pause: that is
  // the car's (a phone call), and not ours to undo.
  function resumeAudio() {
    if (audioSession === null || !audioBroken || audioSession !== current.session_id) return;
    audioRetriesLeft = AUDIO_RETRIES;
    loadAudio();
  }

  function loadAudio() {
    // A new URL per session: /audio ends with its session and must be asked for again.
    listenerToken = Math.random().toString(36).slice(2, 14) || "l";
    audioBroken = false;
    stats.audioLoads++;
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
    audioBroken = false;
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
    audioBroken = false;
    setAudioState("playing");
    setPlaybackState("playing");
  });
  // Out of data (a tunnel) or paused: its clock stands still, so the wall clock runs.
  el.audio.addEventListener("waiting", function () {
    if (audioState === "playing") setAudioState("off");
  });
  el.audio.addEventListener("pause", function () { setAudioState("off"); });

  // The stream can break (an LTE tunnel) while its session goes on: ask for it again,
  // a few times at once; after that, when a socket comes back (resumeAudio).
  function audioInterrupted() {
    var sessionId = audioSession;
    if (!sessionId) return;
    audioBroken = true;
    if (audioRetriesLeft <= 0) return;
    audioRetriesLeft--;
    setTimeout(function () {
      if (sessionId === audioSession && sessionId === current.session_id && audioBroken) loadAudio();
    }, AUDIO_RETRY_MS);
  }
  el.audio.addEventListener("error", function () {
    // Without a src (stopAudio) the element reports an error too: not a break.
    if (!el.audio.hasAttribute("src")) return;
    setAudioState("off");
    audioInterrupted();
  });
  el.audio.addEventListener("ended", function () { setAudioState("off"); audioInterrupted(); });

  window.addEventListener("online", function () { resumeAudio(); });

  /* ---------- Media session: the car's own controls ---------- */

  var hasMediaSession = "mediaSession" in navigator && !!window.MediaMetadata;
  var mediaKey = null;

  function setAction(action, handler) {
    if (!hasMediaSession || !navigator.mediaSession.setActionHandler) return;
    // An action this browser does not know throws: the others still work.
    try { navigator.mediaSession.setActionHandler(action, handler); } catch (e) { /* unknown */ }
  }

  function setPlaybackState(state) {
    if (!hasMediaSession) return;
    try { navigator.mediaSession.playbackState = state; } catch (e) { /* older browser */ }
  }

  function updateMediaSession(s) {
    if (!hasMediaSession) return;
    var on = running(s);
    setPlaybackState(on ? (audioState === "playing" ? "playing" : "paused") : "none");
    var title = on ? (s.title || s.query || "tuner") : "tuner";
    var artist = on ? (s.channel || (s.is_live ? "Live" : "tuner")) : "";
    var art = on && s.thumbnail ? s.thumbnail : ARTWORK;
    var key = title + "\n" + artist + "\n" + art;
    if (key === mediaKey) return;
    mediaKey = key;
    try {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: title, artist: artist, album: "tuner",
        artwork: [{ src: new URL(art, location.href).href, sizes: "256x256" }]
      });
    } catch (e) { /* metadata is a nicety */ }
  }

  // Play plays again what stopped (or resumes held sound); pause and stop stop the
  // session, which saves the car's data: tuner streams, it does not buffer ahead.
  setAction("play", function () {
    if (running(current)) {
      if (audioBroken) resumeAudio(); else playAudio();
    } else {
      replayLast();
    }
  });
  setAction("pause", stop);
  setAction("stop", stop);
  setAction("nexttrack", null);

  window.tunerApp = {
    start: start,
    notice: notice,
    withPicker: withPicker,
    errorSentence: errorSentence
  };

  /* ---------- Video socket ---------- */

  var socket = null;
  var wantSocket = false;
  var backoffMs = BACKOFF_FIRST_MS;
  var reconnectTimer = null;
  var activeSession = null;
  var statusOnFirstFrame = false;

  function setSocketState(state) { stats.socketState = state; }

  function connect() {
    if (screenName !== "player") return;
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
      setVideoProblem("");
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
        setVideoProblem("tuner is restarting; reconnecting…");
      } else if (event.code === 1013) {
        // The daemon is at its limit of viewers; the reason says how many.
        setVideoProblem("Cannot show the picture: " + event.reason + ". Retrying…");
      } else {
        setVideoProblem("Connection lost; reconnecting…");
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
      notice("This tuner speaks protocol " + hello.protocol + " and this page only " +
        PROTOCOL + ". Reload the page");
      return;
    }
    stats.lastHello = hello;
    if (hello.session_id !== activeSession) {
      // A new session starts its own clock: nothing of the old one may be shown. Its
      // first frame is a keyframe.
      queue.clear();
      clock.reset();
      // The sound of this session may be loading already (a page opened while it
      // plays asks for it at once): the picture waits for it, as for any start.
      if (audioSession === hello.session_id && audioState === "loading") clock.audioLoading();
      shownInSession = false;
      shownPtsMs = null;
      el.time.textContent = "";
      statusOnFirstFrame = true;
    }
    // Also a retune (the same session at another preset or mode): its frames come
    // after a keyframe; the report window starts again with the new grid.
    activeSession = hello.session_id;
    resetReport();
    startAudio(hello.session_id);
    resumeAudio();
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
      advanceTime(frame.ptsMs);
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
    if (screenName !== "player") return;
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

/* tuner's web client. Protocol: docs/protocol.rst.
 *
 * Plain ES2019, no build step: the car's Chromium can be as old as 79, so no
 * optional chaining, no ??, no modules; newer APIs are feature-detected (fullscreen,
 * media session, its position state) and the page works without them.
 *
 * The client is five scripts, loaded in this order after page.js (what every script
 * of the page shares), each adding its part to window.tunerApp:
 *
 *   app.js      this one: the status the page shows (from /api/status and "session"
 *               events), the notice, the pickers, starting and stopping, Next
 *   sound.js    .sound: the <audio> element (the master clock) and the media session
 *   player.js   .player: the video socket, the canvas, the elapsed time, full screen
 *   seek.js     .seek: ‹‹10, 10››, the scrub bar and the car's seek keys
 *   screens.js  .screens: login, home and player, and the boot
 *
 * A part calls another's functions when something happens, never while the scripts
 * load (the later ones are not there yet); screens.js, the last, boots the page.
 *
 * What the home screen's scripts use (search.js, streams.js, queue.js):
 * tunerApp.start(method, path, body, what) starts a session (and shows the player),
 * .notice(text, retry) shows an error with a retry, .withPicker(body) adds the chosen
 * preset and mode, .errorSentence(result, fallback) says an answer's error.
 */
(function () {
  "use strict";

  // The events socket brings every change; this poll only catches what it cannot say
  // (a login that expired) and costs the LTE link little.
  var STATUS_POLL_MS = 15000;
  // After the page was hidden (no drawing at all), frames pile up: not a slow client.
  var REPORT_PAUSE_AFTER_HIDDEN_MS = 3000;
  var EXPIRED = "Your login expired. Enter the PIN again.";

  var $ = window.tunerPage.$;

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
    // Each time the sound broke, ended or stalled and was asked for again: why, where
    // it was on the session's clock (ms) and how long the page waited before asking.
    audioResumes: [],
    // Seeks asked for, and "seek" messages received.
    seeksSent: [],
    seeksApplied: [],
    // A/V sync: where the clock comes from, and each shown frame's pts minus the clock.
    sync: { source: "none", clockMs: null, late: 0, offsets: [], audioStartMs: null }
  };
  window.tunerStats = stats;

  var app = window.tunerApp = {
    el: el,
    stats: stats,
    EXPIRED: EXPIRED,
    // The last status, from /api/status or a "session" event.
    current: { state: "idle", session_id: null },
    // The screen shown (screens.js sets it), null until the page booted.
    screen: null,
    running: running,
    formatDuration: window.tunerPage.duration,
    sentence: sentence,
    errorSentence: errorSentence,
    notice: notice,
    renderStatus: renderStatus,
    refreshStatus: refreshStatus,
    startStatusPolling: startStatusPolling,
    stopStatusPolling: stopStatusPolling,
    setVideoProblem: setVideoProblem,
    loadPresets: loadPresets,
    withPicker: withPicker,
    start: start,
    stop: stop,
    replayLast: replayLast
  };

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

  function running(s) { return s.state !== "idle" && s.state !== "error"; }

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
    if (!running(app.current)) return;
    var body = {};
    body[key === PRESET_KEY ? "preset" : "mode"] = select.value;
    api("POST", "/api/tune", body).then(function (result) {
      if (result.ok && result.data) renderStatus(result.data);
      else if (result.status === 401) app.screens.showLogin(EXPIRED);
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
    if (running(app.current)) showPickers(app.current);
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
    if (statusInFlight || app.screen === "login" || app.screen === null) return;
    statusInFlight = true;
    try {
      var result = await api("GET", "/api/status");
      if (result.status === 401) app.screens.showLogin(EXPIRED);
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
    var previous = app.current;
    app.current = s;
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
    if (!on) app.player.clearTime();
    if (on) showPickers(s);
    if (on) app.seek.learn(s.session_id, s.seekable, s.duration, s.window);

    if (s.state === "error" && s.session_id !== toldError) {
      toldError = s.session_id;
      notice("Could not play " + (title || "it") + ": " + (s.error || "something went wrong"),
        lastPlayed ? replayLast : null);
    }
    if (on && previous.session_id !== s.session_id) notice("");
    if (on && s.session_id) app.sound.start(s.session_id);
    if (!on && app.sound.session !== null) app.sound.stop();
    app.sound.showSession(s);
  }

  // What keeps the picture away (the video socket's last close), if anything.
  var videoProblem = "";

  function setVideoProblem(text) {
    videoProblem = text;
    showStageText();
  }

  function showStageText() {
    el.stageStatus.textContent = running(app.current) && videoProblem ? videoProblem : stageText(app.current);
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

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refreshStatus();
      app.player.pauseReports(REPORT_PAUSE_AFTER_HIDDEN_MS);
    }
  });

  window.tunerPage.on("session", function (s) {
    if (app.screen !== "home" && app.screen !== "player") return;
    renderStatus(s);
    // A new events socket (after a drop) starts with this snapshot.
    app.sound.resume();
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
      app.screens.showLogin(EXPIRED);
    } else if (result.status === 202 && result.data) {
      pendingSession = result.data.session_id;
      pendingUntil = Date.now() + 5000;
      app.screens.showPlayer();
      app.sound.start(result.data.session_id);
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
    app.sound.stop();
    try {
      var result = await api("POST", "/api/stop");
      if (result.status === 401) {
        app.screens.showLogin(EXPIRED);
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
    app.sound.setAction("nexttrack", nextItem ? playNext : null);
  });

  function playNext() {
    if (!nextItem) return;
    start("POST", "/api/queue/" + encodeURIComponent(nextItem.id) + "/play",
      withPicker({}), "play " + nextItem.title);
  }

  el.next.addEventListener("click", playNext);
})();

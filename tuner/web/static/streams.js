/* tuner's list of streams found by the extractors. Protocol: docs/protocol.rst.
 *
 * A script of its own beside app.js: a panel of the home screen while logged in. It
 * follows the "streams" and "extractors" events of /ws/events (the page's one socket,
 * page.js), and plays a stream with a tap (tunerApp.start: POST /api/play).
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  // Ages shown ("5 min ago") are redrawn this often between events.
  var REDRAW_MS = 30000;

  var $ = window.tunerPage.$;

  var el = {
    box: $("streams"), summary: $("streams-summary"), list: $("streams-list"),
    status: $("streams-status"), message: $("streams-message"), refresh: $("streams-refresh")
  };
  if (!el.box || !el.list) return;

  var state = {
    streams: [], streamsAt: 0, extractors: null, extractorsAt: 0, redrawTimer: null, active: false
  };

  /* ---------- words ---------- */

  function ago(seconds) {
    if (seconds < 90) return "just now";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }

  function inTime(seconds) {
    if (seconds < 60) return "in under a minute";
    if (seconds < 5400) return "in " + Math.round(seconds / 60) + " min";
    return "in " + Math.round(seconds / 3600) + " h";
  }

  function elapsedSince(at) { return (Date.now() - at) / 1000; }

  /* ---------- drawing ---------- */

  function streamButton(stream) {
    var item = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "stream" + (stream.is_live ? " live" : "") + (stream.stale ? " stale" : "");
    button.setAttribute("data-url", stream.url);

    var badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = stream.is_live ? "LIVE" : stream.kind.toUpperCase();
    button.appendChild(badge);

    var title = document.createElement("span");
    title.className = "title";
    title.textContent = stream.title;
    button.appendChild(title);

    var details = [];
    if (stream.quality) details.push(stream.quality);
    details.push(stream.extractor);
    if (stream.stale) details.push("not confirmed since " + ago(stream.age_seconds + elapsedSince(state.streamsAt)));
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = details.join(" · ");
    button.appendChild(meta);

    button.addEventListener("click", function () { play(stream); });
    item.appendChild(button);
    return item;
  }

  // The panel shows once the daemon said something about streams, and not at all when
  // finding them is switched off: a passenger has nothing to do with an empty list.
  function showPanel() {
    var off = state.extractors !== null && state.extractors.enabled === false;
    el.box.hidden = !state.active || off || (state.streamsAt === 0 && state.extractorsAt === 0);
  }

  function drawStreams() {
    var list = el.list;
    while (list.firstChild) list.removeChild(list.firstChild);
    for (var i = 0; i < state.streams.length; i++) list.appendChild(streamButton(state.streams[i]));
    var live = 0;
    for (var j = 0; j < state.streams.length; j++) if (state.streams[j].is_live) live++;
    el.summary.textContent = state.streams.length === 0 ? "Streams: none found yet"
      : "Streams: " + live + " live of " + state.streams.length;
    el.box.setAttribute("data-count", String(state.streams.length));
  }

  function drawStatus() {
    var x = state.extractors;
    if (!x) { el.status.textContent = ""; return; }
    if (x.enabled === false) {
      el.status.textContent = "Finding streams is off (see [extract] in the config).";
      el.refresh.hidden = true;
      return;
    }
    el.refresh.hidden = false;
    var parts = [];
    if (x.running !== null && x.running !== undefined) parts.push("Looking for streams…");
    else if (x.last_run) parts.push("Looked " + ago(elapsedSince(state.extractorsAt) + secondsSince(x.last_run.started_at, x)));
    if (x.live_events && x.live_events.length) parts.push("live: " + x.live_events.join(", "));
    if (x.next_run_in_seconds !== undefined && (x.running === null || x.running === undefined)) {
      parts.push("next " + inTime(Math.max(0, x.next_run_in_seconds - elapsedSince(state.extractorsAt))));
    }
    var failed = [];
    if (x.extractors && x.extractors.length === 0) parts.push("no extractor enabled (see README: Configure it)");
    for (var i = 0; x.extractors && i < x.extractors.length; i++) {
      var e = x.extractors[i];
      if (e.state === "error") failed.push(e.name + ": " + e.error);
    }
    el.status.textContent = parts.join(" · ") + (parts.length ? "." : "");
    el.status.title = failed.join("\n");
    if (failed.length) el.status.textContent += " " + failed.length + " failed: " + failed[0];
  }

  // The server's age of the last run, from its ISO start time and its own "now"
  // (next_run_at minus next_run_in_seconds), so the car's clock does not matter.
  function secondsSince(iso, x) {
    var start = Date.parse(iso);
    var serverNow = Date.parse(x.next_run_at) - 1000 * x.next_run_in_seconds;
    if (isNaN(start) || isNaN(serverNow)) return 0;
    return Math.max(0, (serverNow - start) / 1000);
  }

  function showMessage(text) { el.message.textContent = text || ""; }

  /* ---------- actions ---------- */

  var post = function (path, body) { return window.tunerPage.send("POST", path, body); };
  var errorText = window.tunerPage.errorText;

  function play(stream) {
    window.tunerApp.start("POST", "/api/play", window.tunerApp.withPicker({ query: stream.url }),
      "play " + stream.title);
  }

  el.refresh.addEventListener("click", function () {
    post("/api/extract").then(function (result) {
      showMessage(result.ok ? "" : errorText(result, "Refresh failed."));
    }, function () { showMessage("No connection to tuner."); });
  });

  /* ---------- events ---------- */

  window.tunerPage.on("streams", function (data) {
    state.streams = data.streams || [];
    state.streamsAt = Date.now();
    drawStreams();
    showPanel();
  });
  window.tunerPage.on("extractors", function (data) {
    state.extractors = data;
    state.extractorsAt = Date.now();
    drawStatus();
    showPanel();
  });
  window.tunerPage.whileLoggedIn(function () {
    state.active = true;
    showPanel();
    state.redrawTimer = setInterval(function () { drawStreams(); drawStatus(); }, REDRAW_MS);
  }, function () {
    state.active = false;
    showPanel();
    if (state.redrawTimer) clearInterval(state.redrawTimer);
    state.redrawTimer = null;
  });
})();

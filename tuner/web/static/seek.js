/* Seeking: ‹‹10 and 10›› buttons, a scrub bar dragged by touch or mouse, and the
 * media session's seek actions (the car's own controls), all shown only while the
 * source can seek (the status's and the video socket's "seekable"). Part of the
 * client (app.js says how the parts share window.tunerApp); this one is tunerApp.seek.
 *
 * A seek is POST /api/seek with {"position": seconds} or {"delta": seconds}; one is
 * sent at a time, and what is asked meanwhile replaces what waits (sync.js's Seeks),
 * so a burst of taps or drags never queues stale seeks. Where the media is comes
 * from player.js (the "position" messages mapped by the page's own clock); the
 * server's "seek" message says when a seek took effect (player.js drops what it
 * voids, sound.js starts the sound there).
 *
 * A live stream that can seek has a window instead of a length (the "window" of the
 * status and the messages: its oldest place and its live point, in seconds): the bar
 * spans it, its live end moving on with the clock, and the time says how far behind
 * live the picture is.
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  // What ‹‹10, 10›› and the car's seek keys step by, in seconds.
  var STEP_S = 10;
  // A seek's target is shown on the bar until the picture gets there, or this long.
  var TARGET_MS = 5000;
  // The media session's position state is told again at most this often (its own
  // clock runs between), and at once after a seek.
  var POSITION_STATE_MS = 5000;

  var app = window.tunerApp;
  var el = app.el;
  var $ = window.tunerPage.$;
  var api = window.tunerPage.send;

  var bar = {
    box: $("seek"), back: $("seek-back"), forward: $("seek-forward"), scrub: $("scrub"),
    track: $("scrub-track"), fill: $("scrub-fill"), thumb: $("scrub-thumb"), time: $("scrub-time")
  };

  // Closer than this to the live point is live.
  var LIVE_S = 3;

  app.seek = { learn: learn, show: show, applied: applied, ask: ask, behindLive: behindLive };

  // What is known of the session that plays: whether it can seek, how long it is, and
  // a live stream's window ({start, end, at}: at is when it was told, on the page's clock).
  var info = { session: null, seekable: false, duration: null, window: null };
  var shown = false;
  // The finger (or mouse) on the bar: {id, position}.
  var drag = null;
  // Where a seek asked for goes, shown until the picture is there: {position, until}.
  var target = null;
  var last = null;
  var painted = "";
  var positionToldAt = -Infinity;

  var seeks = new window.TunerSync.Seeks(send, function () {
    var range = span();
    return range ? range.end : null;
  });

  // The status (app.js), a hello or a "position" message (player.js) says it; a
  // window that is null (not absent) is gone.
  function learn(session, seekable, mediaDuration, window_) {
    if (!session) return;
    if (info.session !== session) {
      info = { session: session, seekable: false, duration: null, window: null };
    }
    if (typeof seekable === "boolean") info.seekable = seekable;
    if (typeof mediaDuration === "number" && mediaDuration > 0) info.duration = mediaDuration;
    if (window_ && typeof window_.start === "number" && typeof window_.end === "number") {
      info.window = { start: window_.start, end: window_.end, at: window.performance.now() };
    } else if (window_ === null) {
      info.window = null;
    }
    refresh();
  }

  // What the bar spans now: {start, end, live} in seconds, or null (no length known).
  function span() {
    var w = info.window;
    if (w) {
      var moved = Math.max(0, (window.performance.now() - w.at) / 1000);
      return { start: w.start, end: w.end + moved, live: true };
    }
    var end = info.duration || (last && last.duration) || null;
    return end ? { start: 0, end: end, live: false } : null;
  }

  // How far behind the live point ``position`` is (seconds, 0 when live), or null
  // when the source is not a live stream that can seek.
  function behindLive(position) {
    var range = span();
    if (!range || !range.live || typeof position !== "number") return null;
    var behind = range.end - position;
    return behind < LIVE_S ? 0 : behind;
  }

  function refresh() {
    var on = app.running(app.current) && app.current.session_id === info.session && info.seekable;
    // No length known (a source of unknown length): the steps, but no bar.
    var scrubbable = !!span();
    if (bar.scrub.hidden === scrubbable) bar.scrub.hidden = !scrubbable;
    if (on === shown) return;
    shown = on;
    bar.box.hidden = !on;
    if (!on) {
      endDrag();
      target = null;
    }
    // The car's own seek keys, only while they can do something.
    app.sound.setAction("seekbackward", on ? function (details) {
      ask({ delta: -stepOf(details) });
    } : null);
    app.sound.setAction("seekforward", on ? function (details) {
      ask({ delta: stepOf(details) });
    } : null);
    app.sound.setAction("seekto", on ? function (details) {
      if (details && typeof details.seekTime === "number" && isFinite(details.seekTime)) {
        ask({ position: Math.max(0, details.seekTime) });
      }
    } : null);
    if (on) app.player.layout();
  }

  function stepOf(details) {
    var offset = details && details.seekOffset;
    return typeof offset === "number" && offset > 0 ? offset : STEP_S;
  }

  /* ---------- Asking ---------- */

  // body: {position: s} or {delta: s}. The bar shows where it goes at once.
  function ask(body) {
    if (!shown) return;
    var from = target ? target.position : (last ? last.position : null);
    var to = typeof body.position === "number" ? body.position :
      (from === null ? null : from + body.delta);
    if (to !== null) {
      var range = span();
      to = range ? Math.max(range.start, Math.min(to, range.end)) : Math.max(0, to);
      target = { position: to, until: window.performance.now() + TARGET_MS };
      paint(to, range);
    }
    seeks.ask(body);
  }

  function send(body) {
    var sent = app.stats.seeksSent;
    sent.push(body);
    if (sent.length > 20) sent.shift();
    return api("POST", "/api/seek", body).then(function (result) {
      if (result.ok) {
        if (result.data) app.renderStatus(result.data);
        return;
      }
      target = null;
      show(last);
      if (result.status === 401) app.screens.showLogin(app.EXPIRED);
      else app.notice(app.errorSentence(result, "Cannot seek (HTTP " + result.status + ")"));
    }, function () {
      target = null;
      show(last);
      app.notice("Cannot reach tuner to seek.");
    });
  }

  // The server's "seek" message: the position message that follows moves the bar.
  function applied() {
    positionToldAt = -Infinity;
    if (target) target.until = window.performance.now() + TARGET_MS;
  }

  /* ---------- Showing ---------- */

  // at: {position, duration} of what is shown now (player.js), or null.
  function show(at) {
    last = at;
    refresh();
    if (!shown || drag) return;
    var now = window.performance.now();
    if (target && (now > target.until || (at && Math.abs(at.position - target.position) < 2))) {
      target = null;
    }
    var range = span();
    if (target) paint(target.position, range);
    else if (at) paint(at.position, range);
    // A live stream has no length to tell the car's own bar.
    if (at && range && !range.live && now - positionToldAt >= POSITION_STATE_MS) {
      positionToldAt = now;
      tellPositionState(at.position, range.end);
    }
  }

  // Where the bar says position is: the time, or how far behind live.
  function label(position, range) {
    if (range && range.live) {
      var behind = behindLive(position);
      return behind === 0 ? "Live" : "\u2212" + app.formatDuration(behind) + " behind live";
    }
    return app.formatDuration(position) + (range ? " / " + app.formatDuration(range.end) : "");
  }

  function paint(position, range) {
    var length = range ? range.end - range.start : 0;
    var share = length > 0 ? Math.max(0, Math.min(1, (position - range.start) / length)) : 0;
    var percent = (share * 100).toFixed(2) + "%";
    if (percent !== painted) {
      painted = percent;
      bar.fill.style.width = percent;
      bar.thumb.style.left = percent;
    }
    var value = String(Math.floor(position));
    if (bar.scrub.getAttribute("aria-valuenow") !== value) {
      bar.scrub.setAttribute("aria-valuenow", value);
      bar.scrub.setAttribute("aria-valuemin", String(Math.floor(range ? range.start : 0)));
      bar.scrub.setAttribute("aria-valuemax", String(Math.floor(range ? range.end : 0)));
      bar.scrub.setAttribute("aria-valuetext", range && range.live ? label(position, range) :
        app.formatDuration(position) + (range ? " of " + app.formatDuration(range.end) : ""));
    }
    if (drag) {
      bar.time.textContent = label(position, range);
      bar.time.style.left = percent;
      // Kept over the bar at both ends.
      bar.time.style.transform = "translateX(-" + percent + ")";
    }
  }

  // Where the browser has it (Chromium 81+), the car's own bar shows where it is too.
  function tellPositionState(position, end) {
    var session = navigator.mediaSession;
    if (!session || typeof session.setPositionState !== "function") return;
    try {
      session.setPositionState({ duration: end, playbackRate: 1, position: Math.min(position, end) });
    } catch (e) { /* a browser that disagrees: the bar here still shows it */ }
  }

  /* ---------- Dragging: pointer events, one finger or the mouse ---------- */

  function positionAt(clientX) {
    var range = span();
    var box = bar.track.getBoundingClientRect();
    if (!range || box.width <= 0) return null;
    var share = Math.max(0, Math.min(1, (clientX - box.left) / box.width));
    var at = range.start + share * (range.end - range.start);
    // The server takes a position before the end (a live stream's edge moves on).
    return Math.round(Math.max(range.start, Math.min(at, range.end - 1)) * 10) / 10;
  }

  bar.scrub.addEventListener("pointerdown", function (event) {
    if (drag || !shown || (event.pointerType === "mouse" && event.button !== 0)) return;
    var position = positionAt(event.clientX);
    if (position === null) return;
    event.preventDefault();
    drag = { id: event.pointerId, position: position };
    try { bar.scrub.setPointerCapture(event.pointerId); } catch (e) { /* moves still come */ }
    bar.scrub.classList.add("dragging");
    bar.time.hidden = false;
    paint(position, span());
  });

  bar.scrub.addEventListener("pointermove", function (event) {
    if (!drag || event.pointerId !== drag.id) return;
    var position = positionAt(event.clientX);
    if (position === null) return;
    drag.position = position;
    paint(position, span());
  });

  // Let go: the seek is sent now, once.
  bar.scrub.addEventListener("pointerup", function (event) {
    if (!drag || event.pointerId !== drag.id) return;
    var position = drag.position;
    endDrag();
    ask({ position: position });
  });

  // Taken away (the browser's own gesture, the window lost): nothing is sent.
  bar.scrub.addEventListener("pointercancel", function (event) {
    if (drag && event.pointerId === drag.id) endDrag();
  });
  bar.scrub.addEventListener("lostpointercapture", function (event) {
    if (drag && event.pointerId === drag.id) endDrag();
  });

  function endDrag() {
    if (!drag) return;
    var id = drag.id;
    drag = null;
    bar.scrub.classList.remove("dragging");
    bar.time.hidden = true;
    try { bar.scrub.releasePointerCapture(id); } catch (e) { /* already released */ }
    show(last);
  }

  // A keyboard (or a car's rotary knob) on the bar steps as the buttons do.
  bar.scrub.addEventListener("keydown", function (event) {
    if (event.key === "ArrowLeft" || event.key === "ArrowDown") ask({ delta: -STEP_S });
    else if (event.key === "ArrowRight" || event.key === "ArrowUp") ask({ delta: STEP_S });
    else return;
    event.preventDefault();
  });

  bar.back.addEventListener("click", function () { ask({ delta: -STEP_S }); });
  bar.forward.addEventListener("click", function () { ask({ delta: STEP_S }); });

  el.seek = bar.box;
})();

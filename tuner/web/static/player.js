/* The picture: the video socket, frames drawn on the canvas when the audio clock
 * reaches them, the elapsed time, full screen, and the reports that let the server
 * adapt the quality. Part of the client (app.js says how the parts share
 * window.tunerApp); this one is tunerApp.player.
 *
 * Frames arrive as protocol v2 keyframes and deltas (codec.js), wait in a queue for
 * the audio clock (sync.js), and are drawn by renderer.js, which redraws only the
 * cells that changed. Every message is decoded in order, also those that are never
 * drawn (late ones): a delta applies only on top of the one before it. The video
 * socket is open only while the player is shown.
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  // The hello's protocol (docs/protocol.rst); frames carry the codec's own VERSION.
  var PROTOCOL = 3;
  // How often the server hears how drawing keeps up (adaptive quality).
  var REPORT_MS = 2000;
  // At most one keyframe request this often: the first answer fixes every later delta.
  var KEYFRAME_ASK_MS = 1000;

  var app = window.tunerApp;
  var el = app.el;
  var stats = app.stats;
  var sound = app.sound;

  var clock = new window.TunerSync.Clock(function () { return window.performance.now(); });
  // Frames that leave the queue unseen are decoded all the same (see the top).
  var queue = new window.TunerSync.FrameQueue(decodeFrame);
  stats.sync.offsets = queue.offsets;

  // Where the clock is in the media ("position" messages): the elapsed time and the
  // scrub bar show it.
  var mediaTime = new window.TunerSync.MediaTime();

  app.player = {
    clock: clock,
    mediaTime: mediaTime,
    now: now,
    connect: connect,
    disconnect: disconnect,
    layout: layout,
    scheduleDraw: scheduleDraw,
    clearTime: clearTime,
    pauseReports: pauseReports
  };

  /* ---------- Elapsed time ---------- */

  // Elapsed time is where the shown picture is in the media: the "position" messages
  // map the session's clock to it (a seek jumps it); without them (a live stream, an
  // older server) it is the clock itself. The clock is the shown frame's pts, and
  // between frames (a still picture sends none) the sync clock.
  var shownPtsMs = null;

  function advanceTime(ms) {
    if (ms === null || (shownPtsMs !== null && ms <= shownPtsMs)) return;
    shownPtsMs = ms;
    renderTime();
  }

  function clearTime() {
    el.time.textContent = "";
    shownPtsMs = null;
    if (app.seek) app.seek.show(null);
  }

  // {position, duration} in seconds of what is shown now, or null before a picture.
  function now() {
    if (shownPtsMs === null || !app.running(app.current)) return null;
    var at = mediaTime.at(shownPtsMs);
    if (at === null) at = { position: shownPtsMs / 1000, duration: null };
    if (at.duration === null && app.current.duration) at.duration = app.current.duration;
    return at;
  }

  setInterval(function () {
    if (app.screen !== "player" || !shownInSession || !app.running(app.current)) return;
    advanceTime(clock.read({ state: sound.state, currentTime: el.audio.currentTime }, queue.firstPts()));
  }, 500);

  function renderTime() {
    var at = now();
    if (at === null) return;
    // A live stream that can seek: how far behind its live point.
    var behind = app.seek ? app.seek.behindLive(at.position) : null;
    var text = app.formatDuration(at.position);
    if (behind !== null) text = behind === 0 ? "Live" : "\u2212" + app.formatDuration(behind);
    else if (at.duration) text += " / " + app.formatDuration(at.duration);
    if (el.time.textContent !== text) el.time.textContent = text;
    if (app.seek) app.seek.show(at);
  }

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
          done.catch(function () { app.notice("This browser refused full screen."); });
        }
      } catch (e) { app.notice("This browser refused full screen."); }
    });
    document.addEventListener(fullscreen.event, function () {
      el.fullscreen.textContent = fullscreen.active() ? "Exit full screen" : "Full screen";
      layout();
    });
  }

  /* ---------- Video socket ---------- */

  var activeSession = null;
  var statusOnFirstFrame = false;

  // The last frame received of the active session: a new socket after a drop asks to
  // go on after it, and the server sends what the link missed while it holds it.
  var lastSeqInSession = null;

  // A new socket's first messages (hello, position, then an "audio" message for every
  // audio stream the server still sends, then frames) say whether this page's audio
  // stream outlived the drop: fresh is true from the socket's opening to its first
  // hello; askedAbout is the stream to look for until the first frame (null: none).
  var fresh = false;
  var askedAbout = null;
  var askedAboutNamed = false;

  // Out of a tunnel the picture should come back well within what the page holds
  // (the server's lead, 10 s by default): tries every 0.5 s, 1 s, 2 s, then 3 s.
  var socket = window.tunerPage.socket("/ws/video", {
    binary: "arraybuffer",
    backoff: [500, 3000],
    path: function () {
      // Resume only from a frame this page could apply: else it starts afresh, from
      // a keyframe.
      if (activeSession === null || lastSeqInSession === null || awaitingKeyframe) {
        return "/ws/video";
      }
      return "/ws/video?session=" + encodeURIComponent(activeSession) +
        "&after_seq=" + lastSeqInSession;
    },
    onState: function (state) { stats.socketState = state; },
    onOpen: function () {
      fresh = true;
      askedAbout = null;
      app.setVideoProblem("");
    },
    onMessage: function (event) {
      if (typeof event.data === "string") onControl(event.data);
      else onFrame(event.data);
    },
    onDrop: function (event) {
      if (event.code === 1001) {
        // Going away: a status call now would only fail; the next poll or hello updates it.
        app.setVideoProblem("tuner is restarting; reconnecting…");
      } else if (event.code === 1013) {
        // The daemon is at its limit of viewers; the reason says how many.
        app.setVideoProblem("Cannot show the picture: " + event.reason + ". Retrying…");
      } else {
        app.setVideoProblem("Connection lost; reconnecting…");
        // A refused handshake (expired login) also looks like a close; the status call tells.
        app.refreshStatus();
      }
    }
  });

  function connect() {
    if (app.screen === "player") socket.open();
  }

  function disconnect() {
    socket.close(1000);
    activeSession = null;
  }

  function onControl(text) {
    var message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (!message || typeof message.type !== "string") return;
    if (message.type === "hello") onHello(message);
    else if (message.type === "end") onEnd(message);
    else if (message.type === "audio") onAudioClock(message);
    else if (message.type === "position") onPosition(message);
    else if (message.type === "seek") onSeek(message);
  }

  function onHello(hello) {
    if (hello.protocol !== PROTOCOL) {
      disconnect();
      app.notice("This tuner speaks protocol " + hello.protocol + " and this page only " +
        PROTOCOL + ". Reload the page");
      return;
    }
    stats.lastHello = hello;
    // The socket after a drop, in the same session: does the server still send this
    // page's sound? (Looked at when the first frame comes.)
    askedAbout = fresh && hello.session_id === activeSession && sound.session === activeSession ?
      sound.confirmed() : null;
    askedAboutNamed = false;
    fresh = false;
    if (hello.session_id !== activeSession) {
      // A new session starts its own clock: nothing of the old one may be shown. Its
      // first frame is a keyframe.
      queue.clear();
      mediaTime.clear();
      lastSeqInSession = null;
      clock.reset();
      // The sound of this session may be loading already (a page opened while it
      // plays asks for it at once): the picture waits for it, as for any start.
      if (sound.session === hello.session_id && sound.state === "loading") clock.audioLoading();
      shownInSession = false;
      clearTime();
      statusOnFirstFrame = true;
    }
    // Also a retune (the same session at another preset or mode): its frames come
    // after a keyframe; the report window starts again with the new grid.
    activeSession = hello.session_id;
    if (app.seek) app.seek.learn(hello.session_id, hello.seekable, hello.duration, hello.window);
    resetReport();
    sound.start(hello.session_id);
    sound.resume();
    app.refreshStatus();
  }

  function onAudioClock(message) {
    if (askedAbout !== null && message.listener === askedAbout) askedAboutNamed = true;
    if (message.listener === sound.listener && typeof message.start_ms === "number") {
      clock.setAudioStart(message.start_ms);
      sound.told(message.listener, message.start_ms);
      scheduleDraw();
    }
  }

  // From clock at_ms on, the media is at position (+ the clock since); also whether
  // it can seek now (a live stream's window can come and go).
  function onPosition(message) {
    if (activeSession === null || typeof message.at_ms !== "number") return;
    mediaTime.mark(message.at_ms, message.position, message.duration);
    if (app.seek) app.seek.learn(activeSession, message.seekable, message.duration, message.window);
    renderTime();
  }

  // A seek took effect at clock at_ms: what is held from there on is void (the new
  // keyframe at at_ms follows, then a "position"), and the sound starts again there.
  function onSeek(message) {
    if (activeSession === null || typeof message.at_ms !== "number") return;
    var dropped = queue.dropFrom(message.at_ms);
    mediaTime.voidFrom(message.at_ms);
    var applied = stats.seeksApplied;
    applied.push({ atMs: message.at_ms, dropped: dropped, at: window.performance.now() });
    if (applied.length > 20) applied.shift();
    sound.seeked(message.at_ms);
    if (app.seek) app.seek.applied();
    scheduleDraw();
  }

  function onEnd(end) {
    if (end.session_id === activeSession) activeSession = null;
    app.refreshStatus();
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
    if (askedAbout !== null) {
      // Every stream the server sends was named before this first frame: not this
      // page's, so the drop ended it (see sound.js).
      if (!askedAboutNamed) sound.lost(askedAbout);
      askedAbout = null;
    }
    stats.lastSeq = info.seq;
    lastSeqInSession = info.seq;
    var newest = queue.frames.length ? queue.frames[queue.frames.length - 1] : null;
    if (newest && info.ptsMs <= newest.ptsMs) {
      // Older than what is held: the server went back (a retune or a seek at the play
      // head, or a resume it could not serve) and what is held after it is void.
      queue.clear();
    }
    if (info.kind === "keyframe") stats.keyframes++;
    if (statusOnFirstFrame) {
      // The first picture means the session left "resolving": show that now, not at the next poll.
      statusOnFirstFrame = false;
      app.refreshStatus();
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
    // Saying the last frame applied lets the server send the picture again from
    // before it, and everything after (nothing skipped).
    var ask = decoder.seq === null ? { type: "keyframe" } : { type: "keyframe", seq: decoder.seq };
    if (socket.send(JSON.stringify(ask))) stats.keyframesAsked++;
    if (window.console) window.console.warn("tuner: " + error.message + "; asked for a keyframe");
  }

  function scheduleDraw() {
    if (drawScheduled) return;
    drawScheduled = true;
    window.requestAnimationFrame(drawDue);
  }

  function drawDue() {
    drawScheduled = false;
    var audio = { state: sound.state, currentTime: el.audio.currentTime };
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
    if (app.screen !== "player") return;
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
      if (socket.send(JSON.stringify(message))) {
        stats.reportsSent++;
        stats.lastReport = message;
      }
    }
    resetReport();
  }, REPORT_MS);
})();

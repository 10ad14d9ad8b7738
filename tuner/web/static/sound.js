/* The sound: the page's <audio src=/audio> element, whose clock the picture follows,
 * and the media session, the car's own controls (play, pause, next on the wheel or
 * the screen's media player). Part of the client (app.js says how the parts share
 * window.tunerApp); this one is tunerApp.sound.
 *
 * A plain <audio src> is what a car keeps playing in Drive (WebAudio and
 * <audio srcObject> are not treated as a media session): /audio is asked for once a
 * session plays, and again when it breaks, ends or stalls while the session plays:
 * then from where its sound was (/audio?from_ms=), so the sound goes on where it
 * stopped, not at the live point, and after a seek from where the seek took effect.
 * Each stream's start is told to the picture by the video socket ("audio" messages,
 * see player.js).
 *
 * A drop (a tunnel) breaks the element's connection, and Chromium asks for the rest
 * of the same URL by bytes (Range: bytes=N-) by itself, again and again while the
 * link is down: tuner sends it (206) while it holds that stream's sound, and the
 * element plays on with no gap and no new stream, so the page leaves it be. When
 * tuner cannot (416: the stream is no longer held), the element plays what it holds
 * (up to the server's lead) and ends, silently; it fires no error. So the page asks
 * again itself, with from_ms: at once when it knows the server cannot resume its
 * stream (a new video socket after the drop does not name it, see player.js), at
 * once when the sound ends, after DRY_MS without data, and after a growing wait
 * while that fails.
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  // A broken stream is asked for again after a growing wait (0.5 s, 1 s, 2 s ... 15 s),
  // at once when a socket comes back or the browser is online again.
  var RETRY_FIRST_MS = 500;
  var RETRY_MAX_MS = 15000;
  // Only a stream that played this long resets the wait, so a server that answers and
  // drops at once is not asked every second.
  var HEALTHY_MS = 5000;
  // Sound that does not move this long while its session plays is a stalled stream.
  var STALL_MS = 5000;
  // An element out of data (waiting) this long is fed again from where it stopped.
  // Longer than Chromium waits between its own retries by bytes (0.3 s, growing by
  // 50 ms a failure to 1.75 s), so that one that can succeed (the link is back, the
  // server holds the stream) does so first: it goes on without a new stream. A
  // refused one ends the element at once ("ended" below).
  var DRY_MS = 3000;
  var STALL_CHECK_MS = 1000;
  // Resumes remembered for the stats.
  var MAX_RESUMES = 20;
  var ARTWORK = "/static/icon.png";

  var app = window.tunerApp;
  var el = app.el;

  var sound = app.sound = {
    // The session whose sound is asked for, or null.
    session: null,
    // "playing" (its clock leads the picture), "loading" (about to, or about to go
    // on where it stopped), or "off".
    state: "off",
    // Names this page's audio stream, so the server can say where it starts.
    listener: null,
    // Where this stream starts on the session's clock (ms): the server's word (the
    // "audio" message), or, for a resumed stream until it comes, where it was asked
    // to start (it starts at the ADTS frame that holds it).
    startMs: null,
    start: start,
    resume: resume,
    stop: stop,
    play: playAudio,
    told: told,
    lost: lost,
    seeked: seeked,
    setAction: setAction,
    showSession: updateMediaSession
  };

  var retryMs = RETRY_FIRST_MS;
  var retryTimer = null;
  var playingSince = null;
  // The stream failed, ended or stalled while its session goes on: to be asked for
  // again, from where its sound was (heardMs, on the session's clock).
  var broken = false;
  var heardMs = null;
  // Whether the server told where the current stream starts (then it names it to every
  // new video socket while the stream lasts).
  var confirmed = false;
  var dryTimer = null;

  function setState(state) {
    sound.state = state;
    app.player.scheduleDraw();
  }

  function start(sessionId) {
    if (!sessionId || sessionId === sound.session) return;
    sound.session = sessionId;
    heardMs = null;
    retryMs = RETRY_FIRST_MS;
    load(null);
  }

  // Back from a drop (a tunnel, a daemon restart) that broke the stream (a short one
  // Chromium bridges itself): the same session's sound again, at once, from where it
  // was. Not a pause: that is the car's (a phone call), and not ours to undo.
  function resume() {
    if (sound.session === null || !broken || sound.session !== app.current.session_id) return;
    load(heardMs);
  }

  // The server's word on where a stream starts (player.js, the "audio" message).
  function told(listener, startMs) {
    if (listener !== sound.listener) return;
    sound.startMs = startMs;
    confirmed = true;
  }

  // A new video socket after a drop did not name this stream: the server ended it
  // and cannot resume it by bytes (a stream that broke and can be resumed is still
  // named), so what the element holds is all it will get. The sound is
  // asked for again now, from where it is, while the element still plays: the new
  // stream fills the lead again before the next tunnel (one short gap now rather
  // than at the end of what it holds). listener: the stream the socket was asked about.
  function lost(listener) {
    if (listener !== sound.listener || !confirmed || broken) return;
    if (sound.session === null || sound.session !== app.current.session_id) return;
    interrupted("lost", "now");
  }

  // Whether the page expects the server to name its stream on a new video socket.
  sound.confirmed = function () { return confirmed && !broken ? sound.listener : null; };

  // A seek took effect at clock atMs: the sound from there on is new, so the stream
  // starts again there (the server also ends the old one).
  function seeked(atMs) {
    if (sound.session === null || sound.session !== app.current.session_id) return;
    heardMs = atMs;
    retryMs = RETRY_FIRST_MS;
    load(atMs);
  }

  // Where the element's sound is on the session's clock (ms), if known.
  function soundAt() {
    if (sound.startMs === null || !el.audio.hasAttribute("src")) return null;
    return sound.startMs + el.audio.currentTime * 1000;
  }

  function load(fromMs) {
    cancelRetry();
    // A new URL per stream: /audio ends with its session and must be asked for again.
    sound.listener = Math.random().toString(36).slice(2, 14) || "l";
    broken = false;
    confirmed = false;
    cancelDry();
    stall.time = -1;
    app.stats.audioLoads++;
    app.player.clock.audioLoading();
    var url = "/audio?session=" + encodeURIComponent(sound.session) +
      "&listener=" + encodeURIComponent(sound.listener);
    sound.startMs = null;
    if (fromMs !== null) {
      fromMs = Math.max(0, Math.round(fromMs));
      sound.startMs = fromMs;
      url += "&from_ms=" + fromMs;
    }
    setState("loading");
    el.audio.src = url;
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
          setState("off");
        }
      });
    }
  }

  function stop() {
    cancelRetry();
    sound.session = null;
    sound.listener = null;
    sound.startMs = null;
    broken = false;
    confirmed = false;
    cancelDry();
    heardMs = null;
    playingSince = null;
    setState("off");
    el.sound.hidden = true;
    el.audio.pause();
    // Without a src the element drops its connection to /audio.
    el.audio.removeAttribute("src");
    el.audio.load();
  }

  el.sound.addEventListener("click", playAudio);
  el.audio.addEventListener("playing", function () {
    cancelDry();
    el.sound.hidden = true;
    broken = false;
    playingSince = window.performance.now();
    setState("playing");
    setPlaybackState("playing");
  });
  el.audio.addEventListener("timeupdate", function () {
    var at = soundAt();
    if (at !== null && sound.state === "playing") heardMs = at;
  });
  // Out of data (a stalled link): the picture waits a while for the sound to go on
  // where it stopped, as at a start; then the wall clock runs (sync.js). Dry for
  // DRY_MS (its own retries by bytes did not feed it), the stream is asked for
  // again from there.
  el.audio.addEventListener("waiting", function () {
    if (sound.state !== "playing") return;
    app.player.clock.audioWaiting();
    setState("loading");
    cancelDry();
    dryTimer = setTimeout(function () {
      dryTimer = null;
      if (sound.state === "loading" && !broken) interrupted("waiting", "healthy");
    }, DRY_MS);
  });

  function cancelDry() {
    if (dryTimer !== null) clearTimeout(dryTimer);
    dryTimer = null;
  }
  // Paused: its clock stands still, so the wall clock runs.
  el.audio.addEventListener("pause", function () { setState("off"); });

  function cancelRetry() {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
  }

  // The stream broke (an LTE tunnel), ended or stalled while its session goes on: ask
  // for it again from where its sound was, after a wait that grows while it keeps
  // breaking (never a storm), or at once when a socket comes back (resume). first:
  // "now" (the link is back: a video socket just came through it), "healthy" (now
  // after a stream that played well: it ended or ran dry after playing what it held,
  // so the link may be back), or "wait".
  function interrupted(reason, first) {
    var sessionId = sound.session;
    if (!sessionId || broken) return;
    cancelDry();
    var at = soundAt();
    if (at !== null && playingSince !== null) heardMs = at;
    broken = true;
    var now = window.performance.now();
    var healthy = playingSince !== null && now - playingSince >= HEALTHY_MS;
    if (healthy) retryMs = RETRY_FIRST_MS;
    playingSince = null;
    var wait = first === "now" || (first === "healthy" && healthy) ? 0 : retryMs;
    var resumes = app.stats.audioResumes;
    resumes.push({ reason: reason, heardMs: heardMs, waitMs: wait, at: now });
    if (resumes.length > MAX_RESUMES) resumes.shift();
    if (heardMs !== null) {
      // The picture waits for the sound, which goes on where it stopped.
      app.player.clock.audioWaiting();
      setState("loading");
    } else {
      setState("off");
    }
    cancelRetry();
    var again = function () {
      retryTimer = null;
      if (sessionId === sound.session && sessionId === app.current.session_id &&
          app.running(app.current) && broken) {
        load(heardMs);
      }
    };
    if (wait === 0) {
      again();
      return;
    }
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    retryTimer = setTimeout(again, wait);
  }

  el.audio.addEventListener("error", function () {
    // Without a src (stop) the element reports an error too: not a break.
    if (!el.audio.hasAttribute("src")) return;
    interrupted("error", "wait");
  });
  // A session's stream ends only with it (or at a seek, which says so first): one that
  // ends while its session plays was cut, and the element played all it held.
  el.audio.addEventListener("ended", function () { interrupted("ended", "healthy"); });

  // A stream can stall without an error (a link that stops carrying data): sound that
  // should play and does not move for STALL_MS is asked for again too. Not while the
  // session itself waits for its source (reconnecting), when the gap is the server's.
  var stall = { time: -1, since: 0 };
  setInterval(function () {
    var audio = el.audio;
    if (broken || sound.session === null || audio.paused || !audio.hasAttribute("src") ||
        app.current.session_id !== sound.session || app.current.state !== "playing") {
      stall.time = -1;
      return;
    }
    var now = window.performance.now();
    if (audio.currentTime !== stall.time) {
      stall.time = audio.currentTime;
      stall.since = now;
    } else if (now - stall.since >= STALL_MS) {
      stall.time = -1;
      interrupted("stalled", "wait");
    }
  }, STALL_CHECK_MS);

  window.addEventListener("online", function () { resume(); });

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
    var on = app.running(s);
    setPlaybackState(on ? (sound.state === "playing" ? "playing" : "paused") : "none");
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
    if (app.running(app.current)) {
      if (broken) resume(); else playAudio();
    } else {
      app.replayLast();
    }
  });
  setAction("pause", function () { app.stop(); });
  setAction("stop", function () { app.stop(); });
  setAction("nexttrack", null);
})();

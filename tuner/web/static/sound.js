/* The sound: the page's <audio src=/audio> element, whose clock the picture follows,
 * and the media session, the car's own controls (play, pause, next on the wheel or
 * the screen's media player). Part of the client (app.js says how the parts share
 * window.tunerApp); this one is tunerApp.sound.
 *
 * A plain <audio src> is what a car keeps playing in Drive (WebAudio and
 * <audio srcObject> are not treated as a media session): /audio is asked for once a
 * session plays, again when it breaks, and the stream's start is told to the picture
 * by the video socket ("audio" messages, see player.js).
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  var AUDIO_RETRY_MS = 2000;
  var AUDIO_RETRIES = 3;
  var ARTWORK = "/static/icon.png";

  var app = window.tunerApp;
  var el = app.el;

  var sound = app.sound = {
    // The session whose sound is asked for, or null.
    session: null,
    // "playing" (its clock leads the picture), "loading" (about to), or "off".
    state: "off",
    // Names this page's audio stream, so the server can say where it starts.
    listener: null,
    start: start,
    resume: resume,
    stop: stop,
    play: playAudio,
    setAction: setAction,
    showSession: updateMediaSession
  };

  var retriesLeft = AUDIO_RETRIES;
  // The stream failed or ended while its session goes on: to be asked for again.
  var broken = false;

  function setState(state) {
    sound.state = state;
    app.player.scheduleDraw();
  }

  function start(sessionId) {
    if (!sessionId || sessionId === sound.session) return;
    sound.session = sessionId;
    retriesLeft = AUDIO_RETRIES;
    load();
  }

  // Back from a drop (a tunnel, a daemon restart) that broke the stream (a short one
  // Chromium bridges itself): the same session's sound again. Not a pause: that is
  // the car's (a phone call), and not ours to undo.
  function resume() {
    if (sound.session === null || !broken || sound.session !== app.current.session_id) return;
    retriesLeft = AUDIO_RETRIES;
    load();
  }

  function load() {
    // A new URL per session: /audio ends with its session and must be asked for again.
    sound.listener = Math.random().toString(36).slice(2, 14) || "l";
    broken = false;
    app.stats.audioLoads++;
    app.player.clock.audioLoading();
    setState("loading");
    el.audio.src = "/audio?session=" + encodeURIComponent(sound.session) +
      "&listener=" + encodeURIComponent(sound.listener);
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
    sound.session = null;
    sound.listener = null;
    broken = false;
    setState("off");
    el.sound.hidden = true;
    el.audio.pause();
    // Without a src the element drops its connection to /audio.
    el.audio.removeAttribute("src");
    el.audio.load();
  }

  el.sound.addEventListener("click", playAudio);
  el.audio.addEventListener("playing", function () {
    el.sound.hidden = true;
    retriesLeft = AUDIO_RETRIES;
    broken = false;
    setState("playing");
    setPlaybackState("playing");
  });
  // Out of data (a tunnel) or paused: its clock stands still, so the wall clock runs.
  el.audio.addEventListener("waiting", function () {
    if (sound.state === "playing") setState("off");
  });
  el.audio.addEventListener("pause", function () { setState("off"); });

  // The stream can break (an LTE tunnel) while its session goes on: ask for it again,
  // a few times at once; after that, when a socket comes back (resume).
  function interrupted() {
    var sessionId = sound.session;
    if (!sessionId) return;
    broken = true;
    if (retriesLeft <= 0) return;
    retriesLeft--;
    setTimeout(function () {
      if (sessionId === sound.session && sessionId === app.current.session_id && broken) load();
    }, AUDIO_RETRY_MS);
  }
  el.audio.addEventListener("error", function () {
    // Without a src (stop) the element reports an error too: not a break.
    if (!el.audio.hasAttribute("src")) return;
    setState("off");
    interrupted();
  });
  el.audio.addEventListener("ended", function () { setState("off"); interrupted(); });

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

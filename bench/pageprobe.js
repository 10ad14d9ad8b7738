/* Injected into the client by issue 17's browser benchmarks (bench/pagekit.py; not
 * shipped). It watches what a person sees and hears, stamped with performance.now():
 *
 *   taps      the time of every click, taken in the capture phase, before the page's
 *             own handler runs (benchlog.tapAt: the last one);
 *   draws     every frame the page draws (window.tunerHooks.onDraw): its seq and pts,
 *             the clock it was drawn on and where that clock came from ("audio",
 *             "wall", "held", "waiting"), and whether real sound was heard then;
 *   arrivals  every frame message the page receives (seq, pts, kind);
 *   sound     the <audio> element routed through an AnalyserNode: when the sound is
 *             *real* (its peak above SOUND_PEAK: the clips' tones are 0.125 and more,
 *             the silence preroll is white noise at 3e-5) and, while it is, its pitch;
 *   events    the element's "waiting" and "playing" events.
 *
 * window.benchOptions (set before this runs) may ask for:
 *   analyser: false   (another probe, tests/web/avprobe.js, routes the element already:
 *                      an element can be routed once), hooks already set are chained;
 *   capture: true     keep a copy of the first plane of each drawn grid while
 *                     benchlog.capturing is true (the seek benchmark reads the
 *                     timecode clip's picture from them).
 *
 * Plain ES2019 (the page's Chromium may be old).
 */
(function () {
  "use strict";
  var options = window.benchOptions || {};
  var SOUND_PEAK = 0.02;
  var MAX_DRAWS = 20000;
  var log = {
    tapAt: null,
    draws: [],
    arrivals: [],
    soundOnAt: [],
    soundOffAt: [],
    loud: false,
    pitchHz: null,
    waiting: [],
    playing: [],
    captures: [],
    capturing: false,
    errors: []
  };
  window.benchlog = log;
  // Forget what came before (a new tap, a new phase); the analyser's state stays.
  window.benchReset = function () {
    log.tapAt = null;
    log.draws = [];
    log.arrivals = [];
    log.soundOnAt = log.loud ? [performance.now()] : [];
    log.soundOffAt = [];
    log.waiting = [];
    log.playing = [];
    log.captures = [];
    log.capturing = false;
  };

  document.addEventListener("click", function () { log.tapAt = performance.now(); }, true);

  // A tap's figures, ms from the tap (null: not yet): the first frame received, the
  // first drawn (held or not), the first real sound heard, and the first frame drawn
  // *moving with its sound*: on the audio clock (not held, not on a wall clock) while
  // real sound plays.
  window.benchStart = function () {
    var t0 = log.tapAt;
    if (t0 === null) return null;
    function after(at) { return at === null ? null : at - t0; }
    var sound = null;
    for (var i = 0; i < log.soundOnAt.length; i++) {
      if (log.soundOnAt[i] >= t0) { sound = log.soundOnAt[i]; break; }
    }
    var moving = null;
    for (var j = 0; j < log.draws.length; j++) {
      var d = log.draws[j];
      if (d.at >= t0 && d.source === "audio" && d.loud) { moving = d; break; }
    }
    return {
      arrived: after(log.arrivals.length ? log.arrivals[0].at : null),
      drawn: after(log.draws.length ? log.draws[0].at : null),
      sound: after(sound),
      moving: after(moving ? moving.at : null),
      movingPts: moving ? moving.pts : null
    };
  };

  var previous = window.tunerHooks || {};
  window.tunerHooks = {
    onDraw: function (frame, clockMs, source, grid) {
      if (previous.onDraw) previous.onDraw(frame, clockMs, source, grid);
      if (log.draws.length < MAX_DRAWS) {
        log.draws.push({
          at: performance.now(), seq: frame.seq, pts: frame.ptsMs, clock: clockMs,
          source: source, loud: log.loud, pitch: log.pitchHz,
          audioStartMs: window.tunerStats.sync.audioStartMs
        });
      }
      if (options.capture && log.capturing && grid && grid.planes) {
        log.captures.push({
          at: performance.now(), pts: frame.ptsMs, source: source, loud: log.loud,
          pitch: log.pitchHz, mode: frame.mode, cols: frame.cols, rows: frame.rows,
          symbols: Array.prototype.slice.call(grid.planes[0])
        });
      }
    },
    onFrame: function (frame) {
      if (previous.onFrame) previous.onFrame(frame);
      if (log.arrivals.length < MAX_DRAWS) {
        log.arrivals.push({ at: performance.now(), seq: frame.seq, pts: frame.ptsMs, kind: frame.kind });
      }
    }
  };

  var audio = document.getElementById("audio");
  audio.addEventListener("waiting", function () { log.waiting.push(performance.now()); });
  audio.addEventListener("playing", function () { log.playing.push(performance.now()); });

  if (options.analyser === false) return;
  try {
    var context = new AudioContext();
    var source = context.createMediaElementSource(audio);
    var analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    analyser.smoothingTimeConstant = 0;
    source.connect(analyser);
    analyser.connect(context.destination);
    var samples = new Float32Array(analyser.fftSize);
    var spectrum = new Float32Array(analyser.frequencyBinCount);
    setInterval(function () {
      if (context.state !== "running") context.resume();
      analyser.getFloatTimeDomainData(samples);
      var peak = 0;
      // The newest 10 ms only, so that the end of a sound is seen soon.
      var from = samples.length - Math.round(context.sampleRate / 100);
      for (var i = Math.max(0, from); i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
      var loud = peak > SOUND_PEAK;
      if (loud) {
        analyser.getFloatFrequencyData(spectrum);
        var best = 0;
        for (var k = 1; k < spectrum.length; k++) if (spectrum[k] > spectrum[best]) best = k;
        log.pitchHz = best * context.sampleRate / analyser.fftSize;
      } else {
        log.pitchHz = null;
      }
      if (loud && !log.loud) log.soundOnAt.push(performance.now());
      if (!loud && log.loud) log.soundOffAt.push(performance.now());
      log.loud = loud;
    }, 2);
  } catch (e) {
    log.errors.push(String(e));
  }
})();

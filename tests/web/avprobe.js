/* Injected into the client by the A/V sync test and benchmark (not shipped).
 *
 * Watches what a person would: when the canvas shows a flash (most cells lit) and when
 * the speakers play a beep (the <audio> element routed through an AnalyserNode), each
 * stamped with performance.now(). The clip flashes and beeps together every second,
 * so flash time minus beep time is the A/V offset a viewer sees and hears.
 */
(function () {
  "use strict";
  // flashes: when a flash was drawn; arrivals: when it arrived (drawing on arrival, as
  // a client without sync would, is the baseline the benchmark compares with).
  var log = { flashes: [], arrivals: [], beeps: [], errors: [] };
  window.avlog = log;
  var wasBright = false;
  var arrivedBright = false;
  // Frames are keyframes and deltas: decode the arrivals on a decoder of our own.
  var arrivals = new window.TunerCodec.Decoder();
  // Symbols (the first plane) of a mono grid: a space is a dark cell.
  function bright(symbols) {
    var lit = 0;
    for (var i = 0; i < symbols.length; i++) if (symbols[i] !== 32) lit++;
    return lit > symbols.length * 0.5;
  }
  window.tunerHooks = {
    onDraw: function (frame, clockMs, source, grid) {
      var now = bright(grid.planes[0]);
      if (now && !wasBright) {
        log.flashes.push({ at: performance.now(), pts: frame.ptsMs, clock: clockMs, source: source });
      }
      wasBright = now;
    },
    onFrame: function (frame) {
      try {
        arrivals.decode(frame.message);
      } catch (e) {
        log.errors.push(String(e));
        return;
      }
      var now = bright(arrivals.planes[0]);
      if (now && !arrivedBright) log.arrivals.push({ at: performance.now(), pts: frame.ptsMs });
      arrivedBright = now;
    }
  };
  try {
    var audio = document.getElementById("audio");
    var context = new AudioContext();
    var source = context.createMediaElementSource(audio);
    var analyser = context.createAnalyser();
    analyser.fftSize = 256;
    source.connect(analyser);
    analyser.connect(context.destination);
    var samples = new Float32Array(analyser.fftSize);
    var wasLoud = false;
    setInterval(function () {
      if (context.state !== "running") context.resume();
      analyser.getFloatTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
      var loud = peak > 0.3;
      if (loud && !wasLoud) {
        // The clip time the beep belongs to, by the server's mapping: used only to pair
        // each beep with its flash (a second apart from the next), not for timing.
        var startMs = window.tunerStats.sync.audioStartMs;
        log.beeps.push({
          at: performance.now(),
          audioTime: audio.currentTime,
          clipMs: startMs === null ? null : audio.currentTime * 1000 + startMs
        });
      }
      wasLoud = loud;
    }, 2);
  } catch (e) {
    log.errors.push(String(e));
  }
})();

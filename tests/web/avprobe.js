/* Injected into the client by the A/V sync test and benchmark (not shipped).
 *
 * Watches what a person would: when the canvas shows a flash (most cells lit) and when
 * the speakers play a beep (the <audio> element routed through an AnalyserNode), each
 * stamped with performance.now(). The clip flashes and beeps together every second,
 * so flash time minus beep time is the A/V offset a viewer sees and hears.
 */
(function () {
  "use strict";
  var log = { flashes: [], beeps: [], errors: [] };
  window.avlog = log;
  var wasBright = false;
  window.tunerHooks = {
    onDraw: function (frame, clockMs, source) {
      var lit = 0;
      var cells = frame.cells;
      for (var i = 0; i < cells.length; i++) if (cells[i] !== 32) lit++;
      var bright = lit > cells.length * 0.5;
      if (bright && !wasBright) {
        log.flashes.push({ at: performance.now(), pts: frame.ptsMs, clock: clockMs, source: source });
      }
      wasBright = bright;
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
      if (loud && !wasLoud) log.beeps.push({ at: performance.now(), audioTime: audio.currentTime });
      wasLoud = loud;
    }, 2);
  } catch (e) {
    log.errors.push(String(e));
  }
})();

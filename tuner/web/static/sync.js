/* tuner's A/V sync: which frame to show now. Protocol: docs/protocol.rst.
 *
 * Pure logic, no DOM, so it runs (and is tested) under node too. Plain ES2019.
 *
 * The master clock is the <audio> element's: a frame is shown when the sound reaches
 * its pts. The server says where this element's stream starts on the session's
 * clock (the "audio" control message), so clock = currentTime * 1000 + startMs.
 * While the sound is loading the picture holds its first frame (the sound is about
 * to start and would otherwise make the clock jump back); when there is no sound
 * (blocked, paused, broken, or still loading after a while) a wall clock runs from
 * where the picture is. The clock never runs backwards.
 */
(function (root) {
  "use strict";

  // How long the picture waits for loading sound before running on the wall clock.
  var AUDIO_WAIT_MS = 4000;
  // Frames kept while they wait for their time: the server sends up to its lead
  // ahead (lead_seconds, at most 30 s), so 30 s at 30 fps.
  var MAX_QUEUED = 900;
  // Offsets remembered for the stats.
  var MAX_OFFSETS = 600;

  function Clock(now) {
    this.nowMs = now;
    this.reset();
  }

  Clock.prototype.reset = function () {
    this.audioStartMs = null;
    this.last = null;
    this.wallBase = null;
    this.source = "none";
    this.loadingSince = null;
  };

  // The server's mapping for this page's audio stream.
  Clock.prototype.setAudioStart = function (startMs) {
    this.audioStartMs = startMs;
  };

  // The element was given a new stream: its mapping is unknown until the server says.
  Clock.prototype.audioLoading = function () {
    this.audioStartMs = null;
    this.loadingSince = this.nowMs();
  };

  // audio: { state: "playing" | "loading" | "off", currentTime: seconds }.
  // firstPts: the pts of the oldest frame waiting (where a wall clock would start).
  // Returns the clock in ms, or null while the picture should hold.
  Clock.prototype.read = function (audio, firstPts) {
    var now = this.nowMs();
    var t = null;
    if (audio.state === "playing" && this.audioStartMs !== null) {
      t = audio.currentTime * 1000 + this.audioStartMs;
      this.source = "audio";
    } else if (audio.state === "loading" && this.loadingSince !== null &&
               now - this.loadingSince < AUDIO_WAIT_MS) {
      this.source = "waiting";
      this.wallBase = null;
      return this.last;
    } else {
      if (this.wallBase === null) {
        var from = this.last !== null ? this.last : firstPts;
        if (from === null || from === undefined) return this.last;
        this.wallBase = { pts: from, at: now };
      }
      t = this.wallBase.pts + (now - this.wallBase.at);
      this.source = "wall";
    }
    if (this.source === "audio") {
      // Keep a wall clock in step, so that losing the sound does not stop the picture.
      this.wallBase = { pts: Math.max(t, this.last === null ? t : this.last), at: now };
    }
    if (this.last !== null && t < this.last) t = this.last;
    this.last = t;
    return t;
  };

  // onPass(frame), if given, is called for each frame that leaves the queue unseen
  // (late, or pushed out when full), in order: a client of a delta-coded stream must
  // still apply it.
  function FrameQueue(onPass) {
    this.onPass = onPass || null;
    this.frames = [];
    this.late = 0;
    this.shown = 0;
    this.offsets = [];
  }

  FrameQueue.prototype.clear = function () {
    this.frames.length = 0;
  };

  FrameQueue.prototype.push = function (frame) {
    this.frames.push(frame);
    if (this.frames.length > MAX_QUEUED) {
      var gone = this.frames.shift();
      this.late++;
      if (this.onPass) this.onPass(gone);
    }
  };

  FrameQueue.prototype.firstPts = function () {
    return this.frames.length ? this.frames[0].ptsMs : null;
  };

  // The frame to show at clock t (the newest one due), or null if none is due yet.
  // Frames due before it are late: they are dropped unseen.
  FrameQueue.prototype.take = function (t) {
    if (t === null) return null;
    var due = null;
    while (this.frames.length && this.frames[0].ptsMs <= t) {
      if (due !== null) {
        this.late++;
        if (this.onPass) this.onPass(due);
      }
      due = this.frames.shift();
    }
    if (due !== null) {
      this.shown++;
      this.offsets.push(due.ptsMs - t);
      if (this.offsets.length > MAX_OFFSETS) this.offsets.shift();
    }
    return due;
  };

  var api = {
    Clock: Clock, FrameQueue: FrameQueue, AUDIO_WAIT_MS: AUDIO_WAIT_MS, MAX_QUEUED: MAX_QUEUED
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TunerSync = api;
})(this);

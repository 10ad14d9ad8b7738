/* tuner's A/V sync: which frame to show now, where that is in the media (for the
 * elapsed time and the scrub bar), and seeks that supersede each other.
 * Protocol: docs/protocol.rst.
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
  // Position marks remembered (one per ffmpeg start, reconnect or seek).
  var MAX_MARKS = 16;

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

  // The element ran out of data (its stream stalled or broke) and its sound will go on
  // where it stopped: the picture waits for it as for a start (a while), rather than
  // run ahead of it. The mapping, if known, still holds for this stream.
  Clock.prototype.audioWaiting = function () {
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

  // A seek at clock atMs: what is held from there on is void (never shown, never
  // decoded: the new keyframe at atMs follows). Returns how many were dropped.
  FrameQueue.prototype.dropFrom = function (atMs) {
    var kept = 0;
    while (kept < this.frames.length && this.frames[kept].ptsMs < atMs) kept++;
    var dropped = this.frames.length - kept;
    this.frames.length = kept;
    return dropped;
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

  // Where the session's clock is in the media: the server's "position" messages, each
  // saying that from clock atMs on, media position = position + (clock - atMs) / 1000
  // (seconds). A later mark (a reconnect, a seek) takes over from its atMs on.
  function MediaTime() {
    this.marks = [];
  }

  MediaTime.prototype.clear = function () {
    this.marks.length = 0;
  };

  // A "position" message. One at or before an older mark's atMs replaces it (a seek
  // voids what was said for the clock after it).
  MediaTime.prototype.mark = function (atMs, position, duration) {
    if (typeof atMs !== "number" || typeof position !== "number" || !isFinite(position)) return;
    this.voidFrom(atMs);
    this.marks.push({
      atMs: atMs,
      position: position,
      duration: typeof duration === "number" && duration > 0 ? duration : null
    });
    if (this.marks.length > MAX_MARKS) this.marks.shift();
  };

  MediaTime.prototype.voidFrom = function (atMs) {
    while (this.marks.length && this.marks[this.marks.length - 1].atMs >= atMs) this.marks.pop();
  };

  // {position, duration} (seconds) at clock t, or null when no mark is known (or t is).
  // Before the first mark (a mark sent ahead) its own position is extrapolated back.
  MediaTime.prototype.at = function (t) {
    if (t === null || t === undefined || !this.marks.length) return null;
    var mark = this.marks[0];
    for (var i = 1; i < this.marks.length && this.marks[i].atMs <= t; i++) mark = this.marks[i];
    var position = Math.max(0, mark.position + (t - mark.atMs) / 1000);
    if (mark.duration !== null) position = Math.min(position, mark.duration);
    return { position: position, duration: mark.duration };
  };

  // Seeks asked for one at a time: send(body) returns a promise of the answer. A seek
  // asked for while one is on its way waits, and a newer one replaces it (a position
  // replaces anything; a step adds to what waits), so a burst of taps or drags sends
  // at most two requests and never a stale one.
  // limit(), if given, says the duration (seconds, or null): a position waiting is kept
  // before it when a step is added to it.
  function Seeks(send, limit) {
    this.send = send;
    this.limit = limit || null;
    this.busy = false;
    this.waiting = null;
  }

  // body: {position: seconds} or {delta: seconds}.
  Seeks.prototype.ask = function (body) {
    if (this.busy) {
      this.waiting = merge(this.waiting, body, this.limit ? this.limit() : null);
      return;
    }
    this.go(body);
  };

  Seeks.prototype.go = function (body) {
    var self = this;
    this.busy = true;
    var done = function () {
      self.busy = false;
      var next = self.waiting;
      self.waiting = null;
      if (next !== null) self.go(next);
    };
    var sent;
    try { sent = this.send(body); } catch (e) { sent = null; }
    if (sent && typeof sent.then === "function") sent.then(done, done); else done();
  };

  function merge(waiting, body, duration) {
    if (typeof body.position === "number" || waiting === null) return body;
    if (typeof waiting.position === "number") {
      var position = waiting.position + body.delta;
      if (typeof duration === "number" && duration > 0) position = Math.min(position, duration - 1);
      return { position: Math.max(0, position) };
    }
    return { delta: waiting.delta + body.delta };
  }

  var api = {
    Clock: Clock, FrameQueue: FrameQueue, MediaTime: MediaTime, Seeks: Seeks,
    AUDIO_WAIT_MS: AUDIO_WAIT_MS, MAX_QUEUED: MAX_QUEUED
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TunerSync = api;
})(this);

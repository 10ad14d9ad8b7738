/* Scenarios for tuner/web/static/sync.js, run by tests/web/test_sync_js.py under node. */
"use strict";
const assert = require("assert");
const sync = require(process.argv[2]);

let now = 0;
const clock = () => new sync.Clock(() => now);
const frames = (q, from, to, step) => { for (let p = from; p <= to; p += step) q.push({ ptsMs: p }); };

// The audio clock leads: a frame is shown when the sound reaches it, not before.
{
  now = 0;
  const c = clock(), q = new sync.FrameQueue();
  c.audioLoading();
  c.setAudioStart(-3000);
  frames(q, 0, 1000, 40);
  assert.strictEqual(q.take(c.read({ state: "playing", currentTime: 2.0 }, q.firstPts())), null);
  assert.strictEqual(c.source, "audio");
  const shown = q.take(c.read({ state: "playing", currentTime: 3.1 }, q.firstPts()));
  assert.strictEqual(shown.ptsMs, 80);   // the newest frame due at 100 ms
  assert.strictEqual(q.late, 2);          // 0 and 40 were due earlier: dropped unseen
  assert.strictEqual(q.offsets[0], -20);
}

// While the sound loads the clock holds; after AUDIO_WAIT_MS a wall clock runs.
{
  now = 0;
  const c = clock(), q = new sync.FrameQueue();
  c.audioLoading();
  frames(q, 5000, 6000, 40);
  assert.strictEqual(c.read({ state: "loading", currentTime: 0 }, q.firstPts()), null);
  assert.strictEqual(c.source, "waiting");
  now = sync.AUDIO_WAIT_MS + 1;
  assert.strictEqual(c.read({ state: "loading", currentTime: 0 }, q.firstPts()), 5000);
  assert.strictEqual(c.source, "wall");
  now += 100;
  assert.strictEqual(c.read({ state: "loading", currentTime: 0 }, q.firstPts()), 5100);
}

// No sound at all (blocked autoplay): a wall clock from the first frame at once.
{
  now = 1000;
  const c = clock(), q = new sync.FrameQueue();
  frames(q, 200, 400, 40);
  assert.strictEqual(c.read({ state: "off", currentTime: 0 }, q.firstPts()), 200);
  now = 1080;
  assert.strictEqual(q.take(c.read({ state: "off", currentTime: 0 }, q.firstPts())).ptsMs, 280);
}

// The clock never runs backwards: sound that starts behind the wall clock holds it.
{
  now = 0;
  const c = clock();
  c.audioLoading();
  now = 10000;
  assert.strictEqual(c.read({ state: "off", currentTime: 0 }, 0), 0);
  now = 12000;
  assert.strictEqual(c.read({ state: "off", currentTime: 0 }, 0), 2000);
  c.setAudioStart(0);
  assert.strictEqual(c.read({ state: "playing", currentTime: 0.5 }, 0), 2000);
  assert.strictEqual(c.read({ state: "playing", currentTime: 2.5 }, 0), 2500);
  // Sound that stalls (a tunnel): the wall clock carries on from where it was.
  now = 12500;
  assert.strictEqual(c.read({ state: "off", currentTime: 2.5 }, 0), 3000);
}

// A queue that outgrows its bound drops its oldest frames, counted as late.
{
  const q = new sync.FrameQueue();
  const max = sync.MAX_QUEUED;
  frames(q, 0, (max + 100) * 40, 40);
  assert.strictEqual(q.frames.length, max);
  assert.strictEqual(q.late, 101);
}

// Every frame that leaves the queue unseen is handed to onPass, oldest first, so a
// delta-coded client can still apply it; the frame taken is not.
{
  const passed = [];
  const q = new sync.FrameQueue((f) => passed.push(f.ptsMs));
  frames(q, 0, 11 * 40, 40);  // pts 0, 40, ... 440
  const due = q.take(130);
  assert.strictEqual(due.ptsMs, 120);
  assert.deepStrictEqual(passed, [0, 40, 80]);
  for (let i = 0; i < sync.MAX_QUEUED; i++) q.push({ ptsMs: 1000 + i });
  assert.deepStrictEqual(passed.slice(3), [160, 200, 240, 280, 320, 360, 400, 440]);
  assert.strictEqual(q.late, 3 + 8);
}
console.log("ok");

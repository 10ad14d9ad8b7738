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
// Sound that runs dry (a stalled link) holds the picture a while, as a start does: the
// sound goes on where it stopped, and so does the picture. Then the wall clock runs.
{
  now = 0;
  const c = clock();
  c.audioLoading();
  c.setAudioStart(1000);
  assert.strictEqual(c.read({ state: "playing", currentTime: 2 }, 0), 3000);
  c.audioWaiting();
  now = 1000;
  assert.strictEqual(c.read({ state: "loading", currentTime: 2 }, 0), 3000);
  assert.strictEqual(c.source, "waiting");
  assert.strictEqual(c.audioStartMs, 1000);  // the stream's mapping still holds
  now = 1500;
  assert.strictEqual(c.read({ state: "playing", currentTime: 2.5 }, 0), 3500);
  assert.strictEqual(c.source, "audio");
  c.audioWaiting();
  now = 1600;
  assert.strictEqual(c.read({ state: "loading", currentTime: 2.5 }, 0), 3500);
  now = 1500 + sync.AUDIO_WAIT_MS + 1;
  assert.strictEqual(c.read({ state: "loading", currentTime: 2.5 }, 0), 3500);
  assert.strictEqual(c.source, "wall");
  now += 100;
  assert.strictEqual(c.read({ state: "loading", currentTime: 2.5 }, 0), 3600);
}

// A seek at clock 2000: the frames held from there on are void, the ones before stay.
{
  const passed = [];
  const q = new sync.FrameQueue((f) => passed.push(f.ptsMs));
  frames(q, 1000, 3000, 40);
  assert.strictEqual(q.dropFrom(2000), 26);  // 2000, 2040, ... 3000
  assert.strictEqual(q.frames[q.frames.length - 1].ptsMs, 1960);
  assert.deepStrictEqual(passed, []);  // void frames are not decoded
  assert.strictEqual(q.late, 0);
  assert.strictEqual(q.dropFrom(500), 25);
  assert.strictEqual(q.frames.length, 0);
}

// Media time from "position" marks: position + (clock - at) / 1000, each mark from its
// own clock time on; a seek's mark replaces those at or after it.
{
  const m = new sync.MediaTime();
  assert.strictEqual(m.at(1000), null);
  m.mark(0, 0, 120);
  assert.deepStrictEqual(m.at(1500), { position: 1.5, duration: 120 });
  m.mark(5000, 4.2, 120);  // a reconnect: the source went on from 4.2 s at clock 5000
  assert.strictEqual(m.at(4000).position, 4);
  assert.strictEqual(m.at(6000).position, 5.2);
  m.mark(8000, 60, 120);   // sent ahead (the lead): not before its clock time
  assert.strictEqual(m.at(7000).position, 6.2);
  m.voidFrom(7500);        // a seek at 7500 voids it
  m.mark(7500, 30, 120);
  assert.strictEqual(m.at(8000).position, 30.5);
  assert.strictEqual(m.marks.length, 3);
  assert.strictEqual(m.at(7500 + 200000).position, 120);  // never past the end
  assert.strictEqual(m.at(null), null);
  m.mark(9000, NaN, 120);  // not a position: ignored
  assert.strictEqual(m.marks.length, 3);
  // Live, or not known: no duration.
  const live = new sync.MediaTime();
  live.mark(100, 0, null);
  assert.deepStrictEqual(live.at(1100), { position: 1, duration: null });
  // Before the only mark (it came ahead of the clock): extrapolated back, not below 0.
  assert.strictEqual(live.at(0).position, 0);
}

// Seeks one at a time: what is asked meanwhile waits, a position replaces anything, a
// step adds up; nothing stale is sent, and a failed request frees the way too.
(async () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  const sent = [];
  const answers = [];
  const s = new sync.Seeks((body) => {
    sent.push(body);
    return new Promise((resolve, reject) => answers.push({ resolve, reject }));
  }, () => 100);
  s.ask({ delta: 10 });
  s.ask({ delta: 10 });
  s.ask({ delta: -5 });
  assert.deepStrictEqual(sent, [{ delta: 10 }]);
  assert.deepStrictEqual(s.waiting, { delta: 5 });
  s.ask({ position: 40 });
  s.ask({ position: 50 });
  s.ask({ delta: 10 });
  assert.deepStrictEqual(s.waiting, { position: 60 });
  s.ask({ delta: 100 });
  assert.deepStrictEqual(s.waiting, { position: 99 });  // kept before the end
  answers[0].resolve();
  await tick();
  assert.deepStrictEqual(sent, [{ delta: 10 }, { position: 99 }]);
  assert.strictEqual(s.waiting, null);
  s.ask({ delta: -10 });
  answers[1].reject(new Error("offline"));
  await tick();
  assert.deepStrictEqual(sent[2], { delta: -10 });
  answers[2].resolve();
  await tick();
  assert.strictEqual(s.busy, false);
  assert.strictEqual(sent.length, 3);
  console.log("ok");
})().catch((e) => { console.error(e); process.exit(1); });

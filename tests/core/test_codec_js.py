"""The web client's v2 decoder (``static/codec.js``) against the Python reference.

Python encodes sequences of grids; node runs ``codec.js`` on the same messages in
one process; after every message the JavaScript grid must equal the Python
decoder's, byte for byte. Malformed messages must raise ``TunerCodec.ProtocolError``
in JavaScript wherever Python raises ``ProtocolError``, and nothing else ever.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tuner.core.codec import (
    Decoder,
    Encoder,
    Flags,
    MessageKind,
    ProtocolError,
    parse_header,
)
from tuner.core.presets import Mode

from .test_codec import drift, edit, random_grid

CODEC_JS = Path(__file__).resolve().parents[2] / "tuner" / "web" / "static" / "codec.js"

# Reads {"cases": [[message (base64), ...], ...]} on stdin; for each case, a fresh
# decoder applies the messages in order and reports each outcome.
_RUNNER = r"""
const codec = require(process.env.CODEC_JS);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).cases.map((messages) => {
    const decoder = new codec.Decoder();
    return messages.map((message) => {
      try {
        const info = decoder.decode(new Uint8Array(Buffer.from(message, "base64")));
        return {
          ok: true, kind: info.kind, mode: info.mode, seq: info.seq, pts: info.ptsMs,
          cols: info.cols, rows: info.rows, held: decoder.seq,
          changed: info.changed === null ? null : info.changed.length,
          planes: decoder.planes.map((p) => Buffer.from(p).toString("base64")),
        };
      } catch (e) {
        return { ok: false, name: e.name, protocol: e instanceof codec.ProtocolError,
                 message: String(e && e.message) };
      }
    });
  });
  process.stdout.write(JSON.stringify(results));
});
"""


def run_js(cases: list[list[bytes]]) -> list[list[dict[str, Any]]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run `bash .ci/run` or install nodejs")
    payload = {"cases": [[base64.b64encode(m).decode() for m in case] for case in cases]}
    done = subprocess.run(
        [node, "-e", _RUNNER],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={"CODEC_JS": str(CODEC_JS), "PATH": ""},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[list[dict[str, Any]]] = json.loads(done.stdout)
    return results


def python_outcomes(messages: list[bytes]) -> list[dict[str, Any]]:
    """What the Python decoder makes of the messages, in the runner's terms."""
    decoder = Decoder()
    outcomes: list[dict[str, Any]] = []
    for message in messages:
        try:
            info = decoder.decode(message)
        except ProtocolError as exc:
            outcomes.append({"ok": False, "name": type(exc).__name__, "message": str(exc)})
            continue
        grid = decoder.grid
        assert grid is not None
        outcomes.append({
            "ok": True, "kind": info.kind.name.lower(), "mode": info.mode.value, "seq": info.seq,
            "pts": info.pts_ms, "cols": info.cols, "rows": info.rows, "held": decoder.seq,
            "planes": [base64.b64encode(p.tobytes()).decode() for p in grid.planes],
        })  # fmt: skip
    return outcomes


def session(mode: Mode, seed: int) -> list[bytes]:
    """A session's messages: keyframes, deltas, repeats, drifts, a resize, a scene cut."""
    rng = np.random.default_rng(seed)
    encoder = Encoder()
    grid = random_grid(rng, mode, 40, 12)
    grid.planes[:, :6] = 32  # a blank top half, so the keyframe deflates
    messages = []
    for seq in range(24):
        if seq == 10:
            grid = random_grid(rng, mode, 24, 9)  # resize: a keyframe
        elif seq == 16:
            grid = random_grid(rng, mode, 24, 9)  # scene cut: a keyframe
        elif seq % 4 == 3:
            pass  # a repeat: an empty delta
        else:
            grid = drift(rng, edit(rng, grid, 0.05 + 0.1 * (seq % 3)), 0.3)
        messages.append(encoder.encode(grid, 1000 + seq, seq * 33, keyframe=seq == 20))
    return messages


SESSIONS = {mode: session(mode, seed) for seed, mode in enumerate(Mode)}


def test_the_sessions_exercise_every_message_shape() -> None:
    headers = [parse_header(m) for messages in SESSIONS.values() for m in messages]
    shapes = {(h.kind, bool(h.flags & Flags.DEFLATE)) for h in headers}
    assert shapes == {
        (MessageKind.KEYFRAME, True), (MessageKind.KEYFRAME, False),
        (MessageKind.DELTA, True), (MessageKind.DELTA, False),
    }  # fmt: skip


def test_javascript_decodes_every_session_to_the_python_grids() -> None:
    cases = list(SESSIONS.values())
    for js, messages in zip(run_js(cases), cases, strict=True):
        python = python_outcomes(messages)
        for number, (got, expected) in enumerate(zip(js, python, strict=True)):
            assert got["ok"], f"message {number}: {got}"
            got.pop("changed")
            assert got == expected, f"message {number}"


def test_javascript_reports_the_cells_a_delta_changed() -> None:
    messages = SESSIONS[Mode.COLOR]
    js = run_js([messages])[0]
    python = Decoder()
    for outcome, message in zip(js, messages, strict=True):
        before = python.grid
        info = python.decode(message)
        after = python.grid
        assert before is not None or info.kind is MessageKind.KEYFRAME
        if info.kind is MessageKind.KEYFRAME:
            assert outcome["changed"] is None
        else:
            assert before is not None and after is not None
            differs = int((before.planes != after.planes).any(axis=0).sum())
            assert outcome["changed"] >= differs  # resent cells may be unchanged


def test_javascript_refuses_a_missed_delta_and_recovers_from_a_keyframe() -> None:
    messages = SESSIONS[Mode.BRAILLE]
    # Skip message 1 (a delta that changes cells); message 2 then does not apply.
    case = [messages[0], messages[2], messages[3], messages[10]]
    js = run_js([case])[0]
    assert js[0]["ok"]
    assert not js[1]["ok"] and js[1]["name"] == "OutOfSyncError" and js[1]["protocol"]
    assert "ask for a keyframe" in js[1]["message"]
    assert js[3]["ok"] and js[3]["kind"] == "keyframe"
    python = python_outcomes(case)
    assert [o["ok"] for o in js] == [o["ok"] for o in python] == [True, False, False, True]
    assert js[2]["name"] == python[2]["name"] == "OutOfSyncError"


def test_javascript_refuses_every_truncation_as_python_does() -> None:
    cases = []
    for messages in SESSIONS.values():
        for index in (0, 1, 2, 5):  # keyframes and deltas, compressed and not
            message = messages[index]
            prefix = messages[:index]
            cases += [[*prefix, message[:cut]] for cut in range(0, len(message), 3)]
    for js in run_js(cases):
        last = js[-1]
        assert not last["ok"] and last["protocol"], last


def test_javascript_on_corrupted_messages_agrees_with_python_or_refuses_cleanly() -> None:
    rng = np.random.default_rng(99)
    cases = []
    for messages in SESSIONS.values():
        for _ in range(60):
            index = int(rng.integers(0, 8))
            message = bytearray(messages[index])
            for _ in range(int(rng.integers(1, 4))):
                message[int(rng.integers(0, len(message)))] ^= int(rng.integers(1, 256))
            cases.append([*messages[:index], bytes(message)])
    for js, case in zip(run_js(cases), cases, strict=True):
        got, expected = js[-1], python_outcomes(case)[-1]
        if not got["ok"]:
            assert got["protocol"], got  # never a TypeError, RangeError, ...
        elif expected["ok"]:
            got.pop("changed")
            assert got == expected
        # JavaScript accepting what zlib refuses is possible only for DEFLATE streams
        # with an incomplete code, which an encoder never makes; it is not an error.

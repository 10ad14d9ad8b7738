/* tuner's up-next queue. Routes: tuner/web/queue_api.py; events: docs/protocol.rst.
 *
 * A script of its own beside app.js, built like streams.js: it fills two panels of
 * the home screen (up next, recently played) while logged in, follows the "queue" and
 * "job" events of /ws/events (the page's one socket, page.js), and edits the queue
 * with taps: "+ Queue" beside Search adds what is typed, each item can move up or
 * down, be cancelled, retried or removed, and a tap on its title plays it now (through
 * tunerApp.start, which shows the player). Every target is at least 48 px
 * (style.css). Plain ES2019 for Chromium 79: no optional chaining, no ??, no class
 * fields.
 */
(function () {
  "use strict";

  var $ = window.tunerPage.$;

  var el = { box: $("queue"), historyBox: $("history"), add: $("queue-add"), query: $("query") };
  if (!el.box || !el.add || !el.historyBox) return;

  var state = { items: [], autoplay: true, next: null, history: [], notice: null };

  /* ---------- the box's parts (made here, so index.html holds one line) ---------- */

  var make = window.tunerPage.make;

  function button(className, text, label, onTap) {
    var b = make("button", className, text);
    b.type = "button";
    if (label) { b.setAttribute("aria-label", label); b.title = label; }
    b.addEventListener("click", onTap);
    return b;
  }

  var parts = {
    summary: make("h2", null, "Up next"),
    next: make("p", "status"),
    autoplay: button("quiet", "Autoplay: on", null, function () { setAutoplay(!state.autoplay); }),
    message: make("p", "message"),
    list: make("ol", "queue-list"),
    historyTitle: make("h2", null, "Recently played"),
    history: make("ul", "queue-history")
  };
  parts.summary.id = "queue-summary";
  parts.next.id = "queue-next";
  parts.autoplay.id = "queue-autoplay";
  parts.message.id = "queue-message";
  parts.message.setAttribute("role", "alert");
  parts.list.id = "queue-list";
  parts.history.id = "queue-history";
  ["summary", "next", "autoplay", "message", "list"].forEach(function (k) {
    el.box.appendChild(parts[k]);
  });
  el.historyBox.appendChild(parts.historyTitle);
  el.historyBox.appendChild(parts.history);

  /* ---------- words ---------- */

  function megabytes(bytes) { return (bytes / 1e6).toFixed(1) + " MB"; }

  function stateText(item) {
    var p = item.progress;
    if (item.state === "downloading" && p) {
      var words = ["downloading"];
      if (p.percent !== null && p.percent !== undefined) words.push(Math.round(p.percent) + "%");
      if (p.total_bytes) words.push("of " + megabytes(p.total_bytes));
      if (p.speed) words.push("at " + megabytes(p.speed) + "/s");
      return words.join(" ");
    }
    if (item.state === "ready") return item.cached ? "ready · downloaded" : "ready";
    return item.state;
  }

  function titleOf(id) {
    for (var i = 0; i < state.items.length; i++) if (state.items[i].id === id) return state.items[i].title;
    return null;
  }

  /* ---------- drawing ---------- */

  function itemRow(item, index) {
    var row = make("li", "queue-item");
    row.setAttribute("data-id", item.id);
    row.setAttribute("data-state", item.state);
    if (item.id === state.next) row.className += " next";

    var play = button("queue-title", item.title, "Play " + item.title + " now", function () { playItem(item); });
    row.appendChild(play);

    var info = make("div", "queue-info");
    info.appendChild(make("span", "badge", stateText(item)));
    var detail = item.error || item.note;
    if (detail) info.appendChild(make("span", "meta", detail));
    row.appendChild(info);

    var bar = make("div", "queue-bar");
    var fill = make("div", "queue-fill");
    var p = item.progress;
    var percent = item.state === "ready" ? 100 : (p && p.percent ? p.percent : 0);
    fill.style.width = percent + "%";
    bar.appendChild(fill);
    bar.hidden = item.state !== "downloading" && !(item.state === "ready" && item.cached);
    row.appendChild(bar);

    var actions = make("div", "queue-actions");
    var up = button("quiet", "▲", "Move up", function () { move(item, index - 1); });
    up.disabled = index === 0;
    var down = button("quiet", "▼", "Move down", function () { move(item, index + 1); });
    down.disabled = index === state.items.length - 1;
    actions.appendChild(up);
    actions.appendChild(down);
    if (item.state === "failed" || item.state === "cancelled") {
      actions.appendChild(button("quiet queue-retry", "↻", "Prepare again", function () { act(item, "retry"); }));
    } else {
      actions.appendChild(button("quiet queue-cancel", "■", "Cancel its preparation", function () { act(item, "cancel"); }));
    }
    actions.appendChild(button("quiet queue-remove", "✕", "Remove", function () { remove(item); }));
    row.appendChild(actions);
    return row;
  }

  function draw() {
    var list = parts.list;
    while (list.firstChild) list.removeChild(list.firstChild);
    for (var i = 0; i < state.items.length; i++) list.appendChild(itemRow(state.items[i], i));
    drawSummary();
    drawHistory();
  }

  // What plays next, by title: a job's event can change it (its title is known once
  // it is resolved), so it is drawn on its own.
  function drawSummary() {
    var next = state.next ? titleOf(state.next) : null;
    parts.summary.textContent = "Up next: " + (next || "nothing queued") +
      (state.items.length > 1 ? " (+" + (state.items.length - 1) + ")" : "");
    parts.next.textContent = state.notice ? state.notice
      : next ? "Plays next" + (state.autoplay ? " when this ends: " : " (autoplay is off): ") + next
      : "Search, then tap + Queue on a result to line it up.";
    parts.autoplay.textContent = "Autoplay: " + (state.autoplay ? "on" : "off");
    parts.autoplay.setAttribute("aria-pressed", state.autoplay ? "true" : "false");
    el.box.setAttribute("data-count", String(state.items.length));
  }

  function drawHistory() {
    var history = parts.history;
    while (history.firstChild) history.removeChild(history.firstChild);
    el.historyBox.hidden = !state.history.length;
    state.history.forEach(function (entry) {
      var li = make("li");
      li.appendChild(button("quiet queue-replay", "↺ " + entry.title, "Play " + entry.title + " again",
        function () { replay(entry); }));
      history.appendChild(li);
    });
  }

  function showMessage(text) { parts.message.textContent = text || ""; }

  /* ---------- actions ---------- */

  var send = window.tunerPage.send;
  var errorText = window.tunerPage.errorText;

  // Each edit's effect arrives as a "queue" or "job" event; the answer only says if it failed.
  function edit(what, method, path, body) {
    return send(method, path, body).then(function (result) {
      showMessage(result.ok ? "" : "Cannot " + what + ": " + errorText(result));
      return result;
    }, function () { showMessage("No connection to tuner."); });
  }

  function add() {
    var query = el.query ? el.query.value.trim() : "";
    if (!query) { showMessage("Type a URL or words to search first."); return; }
    edit("queue " + query, "POST", "/api/queue", { query: query });
  }

  function move(item, position) { edit("move " + item.title, "POST", "/api/queue/" + item.id + "/move", { position: position }); }
  function act(item, action) { edit(action + " " + item.title, "POST", "/api/queue/" + item.id + "/" + action); }
  function remove(item) { edit("remove " + item.title, "DELETE", "/api/queue/" + item.id); }
  function setAutoplay(on) { edit("switch autoplay", "PUT", "/api/queue/autoplay", { autoplay: on }); }

  function playItem(item) {
    window.tunerApp.start("POST", "/api/play", window.tunerApp.withPicker({ item_id: item.id }),
      "play " + item.title);
  }

  function replay(entry) {
    window.tunerApp.start("POST", "/api/history/" + entry.id + "/replay",
      window.tunerApp.withPicker({}), "play " + entry.title);
  }

  el.add.addEventListener("click", add);

  /* ---------- events ---------- */

  window.tunerPage.on("queue", function (q) {
    state.items = q.items || [];
    state.autoplay = q.autoplay !== false;
    state.next = q.next || null;
    state.history = q.history || [];
    state.notice = q.notice || null;
    draw();
  });
  // A job's change (its progress, a few times a second): only its row is redrawn.
  window.tunerPage.on("job", function (item) {
    for (var i = 0; i < state.items.length; i++) {
      if (state.items[i].id !== item.id) continue;
      state.items[i] = item;
      var old = parts.list.children[i];
      if (old) parts.list.replaceChild(itemRow(item, i), old);
    }
    drawSummary();
  });
  window.tunerPage.whileLoggedIn(function () {
    el.box.hidden = false;
  }, function () {
    el.box.hidden = true;
    el.historyBox.hidden = true;
  });
})();

/* What the page's scripts share (app.js, search.js, streams.js, queue.js): the page's
 * one /ws/events socket, JSON requests with tuner's errors in words, and two small
 * helpers for drawing lists.
 *
 * The socket is open while logged in (body[data-state] "home" or "player"), and opened
 * again with a growing backoff when it drops (the car's link does, in tunnels). On
 * each new socket the server sends a snapshot of every state first, so a script that
 * keeps its state from the events is whole again after a reconnect.
 *
 *   tunerPage.on("queue", function (data) { ... });        an event's data, by type
 *   tunerPage.whileLoggedIn(function () { shown }, function () { hidden });
 *   tunerPage.send("POST", "/api/queue", {query: "..."})   -> {status, ok, data}
 *   tunerPage.errorText(result, fallback)                  "error: detail"
 *   tunerPage.make("li", "card", "text"), tunerPage.duration(61) -> "1:01"
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
window.tunerPage = (function () {
  "use strict";

  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  var SOCKET_HEALTHY_MS = 5000;

  var handlers = {};
  var watchers = [];
  var state = { socket: null, backoff: BACKOFF_FIRST_MS, retryTimer: null, active: false };

  function onMessage(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    var list = handlers[event.type] || [];
    for (var i = 0; i < list.length; i++) list[i](event.data);
  }

  function connect() {
    state.retryTimer = null;
    if (!state.active || state.socket) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/events");
    var openedAt = 0;
    state.socket = socket;
    socket.onopen = function () { openedAt = Date.now(); };
    socket.onmessage = onMessage;
    socket.onclose = function () {
      if (state.socket === socket) state.socket = null;
      if (openedAt && Date.now() - openedAt > SOCKET_HEALTHY_MS) state.backoff = BACKOFF_FIRST_MS;
      if (!state.active) return;
      state.retryTimer = setTimeout(connect, state.backoff);
      state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
    };
  }

  function start() {
    if (state.active) return;
    state.active = true;
    state.backoff = BACKOFF_FIRST_MS;
    watchers.forEach(function (w) { w.shown(); });
    connect();
  }

  function stop() {
    if (!state.active) return;
    state.active = false;
    if (state.retryTimer) clearTimeout(state.retryTimer);
    state.retryTimer = null;
    if (state.socket) state.socket.close(1000, "logged out");
    state.socket = null;
    watchers.forEach(function (w) { w.hidden(); });
  }

  function follow() {
    var screen = document.body.getAttribute("data-state");
    if (screen === "home" || screen === "player") start(); else stop();
  }

  new MutationObserver(follow).observe(document.body, {
    attributes: true, attributeFilter: ["data-state"]
  });
  // Once every script has registered its handlers (they load after this one): the
  // first messages are the snapshots, which none of them may miss.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", follow);
  else follow();

  function send(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  // A node with a class and text: the lists of queue.js and search.js are made of them.
  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Seconds as m:ss, or h:mm:ss from an hour on.
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600);
    var m = Math.floor(seconds / 60) % 60;
    var s = seconds % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function errorText(result, fallback) {
    var data = result.data;
    if (!data || typeof data.error !== "string") return fallback || "HTTP " + result.status;
    var detail = data.detail;
    return data.error + (detail ? ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)) : "");
  }

  return {
    send: send,
    errorText: errorText,
    make: make,
    duration: duration,
    on: function (type, handler) { (handlers[type] = handlers[type] || []).push(handler); },
    whileLoggedIn: function (shown, hidden) {
      watchers.push({ shown: shown, hidden: hidden });
      if (state.active) shown();
    },
    state: state
  };
})();

/* What the page's scripts share: the page's one /ws/events socket, a WebSocket that
 * comes back by itself (the events socket and the player's video socket), JSON
 * requests with tuner's errors in words, and small helpers for drawing.
 *
 * The events socket is open while logged in (body[data-state] "home" or "player").
 * On each new socket the server sends a snapshot of every state first, so a script
 * that keeps its state from the events is whole again after a reconnect.
 *
 *   tunerPage.on("queue", function (data) { ... });        an event's data, by type
 *   tunerPage.whileLoggedIn(function () { shown }, function () { hidden });
 *   tunerPage.send("POST", "/api/queue", {query: "..."})   -> {status, ok, data}
 *   tunerPage.errorText(result, fallback)                  "error: detail"
 *   tunerPage.socket("/ws/video", {onMessage: ...})        a reconnecting socket
 *   tunerPage.$("id"), tunerPage.make("li", "card", "text"), tunerPage.duration(61) -> "1:01"
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
window.tunerPage = (function () {
  "use strict";

  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  // Only a socket that stayed open this long resets the backoff, so a server that
  // accepts and drops at once is not hammered every second.
  var SOCKET_HEALTHY_MS = 5000;

  function $(id) { return document.getElementById(id); }

  /* ---------- A socket that comes back by itself ---------- */

  // A WebSocket to `path` on this host, opened again when it drops (the car's link
  // does, in tunnels) after a growing wait (1 s, 2 s, 4 s ... 15 s), and at once when
  // the browser says it is online again. Options, each optional:
  //   binary: "arraybuffer" for binary messages as ArrayBuffers
  //   onOpen(), onMessage(event): of the current socket only
  //   onDrop(event): it closed by itself (not by close()); a new try is scheduled
  //   onState(state): "connecting", "open", "closed" or "waiting" (for a retry)
  //   backoff: [first, most] waits in ms instead of 1 s and 15 s
  // .open() wants it open, .close(code, reason) no more, .send(text) -> whether it
  // went, .socket is the current WebSocket (or null).
  function Reconnecting(path, options) {
    this.path = path;
    this.options = options || {};
    this.socket = null;
    this.wanted = false;
    var backoff = this.options.backoff || [BACKOFF_FIRST_MS, BACKOFF_MAX_MS];
    this.firstBackoffMs = backoff[0];
    this.maxBackoffMs = backoff[1];
    this.backoffMs = this.firstBackoffMs;
    this.retryTimer = null;
    var self = this;
    // Out of a tunnel: do not wait out the backoff.
    window.addEventListener("online", function () {
      if (!self.wanted || self.retryTimer === null) return;
      clearTimeout(self.retryTimer);
      self.retryTimer = null;
      self.backoffMs = self.firstBackoffMs;
      self.connect();
    });
  }

  Reconnecting.prototype.setState = function (state) {
    if (this.options.onState) this.options.onState(state);
  };

  Reconnecting.prototype.open = function () {
    if (!this.wanted) this.backoffMs = this.firstBackoffMs;
    this.wanted = true;
    if (this.socket || this.retryTimer !== null) return;
    this.connect();
  };

  Reconnecting.prototype.connect = function () {
    var self = this;
    var options = this.options;
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      // options.path, when given, says where to connect each time (a query that
      // changes, such as where a viewer resumes).
      var path = typeof options.path === "function" ? options.path() : this.path;
      ws = new WebSocket(scheme + "//" + location.host + path);
    } catch (e) {
      this.retry();
      return;
    }
    if (options.binary) ws.binaryType = options.binary;
    this.socket = ws;
    this.setState("connecting");
    var openedAt = null;
    ws.onopen = function () {
      if (self.socket !== ws) return;
      openedAt = Date.now();
      self.setState("open");
      if (options.onOpen) options.onOpen();
    };
    ws.onmessage = function (event) {
      if (self.socket === ws && options.onMessage) options.onMessage(event);
    };
    ws.onclose = function (event) {
      if (self.socket !== ws) return;
      self.socket = null;
      self.setState("closed");
      if (!self.wanted) return;
      if (openedAt !== null && Date.now() - openedAt >= SOCKET_HEALTHY_MS) {
        self.backoffMs = self.firstBackoffMs;
      }
      self.retry();
      if (options.onDrop) options.onDrop(event);
    };
  };

  Reconnecting.prototype.retry = function () {
    var self = this;
    var delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.setState("waiting");
    this.retryTimer = setTimeout(function () {
      self.retryTimer = null;
      if (self.wanted) self.connect();
    }, delay);
  };

  Reconnecting.prototype.close = function (code, reason) {
    this.wanted = false;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.socket) {
      var ws = this.socket;
      this.socket = null;
      if (reason === undefined) ws.close(code); else ws.close(code, reason);
    }
    this.setState("closed");
  };

  Reconnecting.prototype.send = function (text) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    try { this.socket.send(text); } catch (e) { return false; }
    return true;
  };

  /* ---------- The events socket, while logged in ---------- */

  var handlers = {};
  var watchers = [];
  var events = new Reconnecting("/ws/events", {
    onMessage: function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      var list = handlers[event.type] || [];
      for (var i = 0; i < list.length; i++) list[i](event.data);
    }
  });

  function follow() {
    var screen = document.body.getAttribute("data-state");
    var loggedIn = screen === "home" || screen === "player";
    if (loggedIn === events.wanted) return;
    if (loggedIn) {
      events.open();
      watchers.forEach(function (w) { w.shown(); });
    } else {
      events.close(1000, "logged out");
      watchers.forEach(function (w) { w.hidden(); });
    }
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
    $: $,
    socket: function (path, options) { return new Reconnecting(path, options); },
    send: send,
    errorText: errorText,
    make: make,
    duration: duration,
    on: function (type, handler) { (handlers[type] = handlers[type] || []).push(handler); },
    whileLoggedIn: function (shown, hidden) {
      watchers.push({ shown: shown, hidden: hidden });
      if (events.wanted) shown();
    },
    // The events socket (tests wait for its .socket to be open).
    state: events
  };
})();

/* The three screens, named by body[data-state]: "login" (the PIN keypad), "home"
 * (search, streams, queue and history: search.js, streams.js, queue.js) and "player"
 * (the canvas and its controls), and which one the page opens on. Part of the client
 * (app.js says how the parts share window.tunerApp); this one is tunerApp.screens,
 * and the last of the parts: it boots the page.
 *
 * The video socket is open only while the player is shown; the sound goes on behind
 * the home screen, as in any music app.
 *
 * Plain ES2019 for Chromium 79: no optional chaining, no ??, no class fields.
 */
(function () {
  "use strict";

  var app = window.tunerApp;
  var el = app.el;
  var api = window.tunerPage.send;

  app.screens = { showLogin: showLogin, showHome: showHome, showPlayer: showPlayer };

  function setScreen(name) {
    app.screen = name;
    el.login.hidden = name !== "login";
    el.home.hidden = name !== "home";
    el.player.hidden = name !== "player";
    el.fatal.hidden = true;
    document.body.setAttribute("data-state", name);
  }

  function showLogin(message) {
    app.player.disconnect();
    app.sound.stop();
    app.stopStatusPolling();
    app.notice("");
    setScreen("login");
    el.loginMessage.textContent = message || "";
    el.pin.value = "";
    el.pin.focus();
  }

  function showHome() {
    var was = app.screen;
    setScreen("home");
    app.player.disconnect();
    app.loadPresets();
    app.startStatusPolling();
    app.renderStatus(app.current);
    if (was !== "player") el.query.focus();
  }

  function showPlayer() {
    setScreen("player");
    app.loadPresets();
    app.startStatusPolling();
    app.renderStatus(app.current);
    app.player.layout();
    app.player.connect();
  }

  async function boot() {
    var result;
    try {
      result = await api("GET", "/api/status");
    } catch (e) {
      el.fatal.textContent = "Cannot reach tuner. Trying again…";
      el.fatal.hidden = false;
      setTimeout(boot, 3000);
      return;
    }
    if (result.status === 401) {
      showLogin();
    } else if (result.ok && result.data) {
      app.current = result.data;
      // Opened while something plays (a reload, a second device): straight to the picture.
      if (app.running(app.current)) showPlayer(); else showHome();
    } else {
      el.fatal.textContent = app.errorSentence(result, "tuner answered HTTP " + result.status);
      el.fatal.hidden = false;
      setTimeout(boot, 5000);
    }
  }

  /* ---------- Login: the keypad ---------- */

  el.keypad.addEventListener("click", function (event) {
    var key = event.target && event.target.getAttribute ? event.target.getAttribute("data-key") : null;
    if (!key) return;
    if (key === "back") el.pin.value = el.pin.value.slice(0, -1);
    else if (key === "clear") el.pin.value = "";
    else if (el.pin.value.length < 64) el.pin.value += key;
    el.loginMessage.textContent = "";
  });

  el.loginForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    var pin = el.pin.value.trim();
    if (!pin) {
      el.loginMessage.textContent = "Type the PIN first.";
      return;
    }
    el.loginButton.disabled = true;
    el.loginMessage.textContent = "";
    try {
      var result = await api("POST", "/api/login", { pin: pin });
      if (result.status === 204) {
        el.pin.value = "";
        boot();
      } else if (result.status === 401) {
        el.loginMessage.textContent = "Wrong PIN";
        el.pin.value = "";
      } else {
        el.loginMessage.textContent = app.errorSentence(result, "Login failed (HTTP " + result.status + ")");
      }
    } catch (e) {
      el.loginMessage.textContent = "Cannot reach tuner. Check the connection and try again.";
    } finally {
      el.loginButton.disabled = false;
    }
  });

  el.logout.addEventListener("click", async function () {
    try { await api("POST", "/api/logout"); } catch (e) { /* forget the session here anyway */ }
    showLogin();
  });

  el.now.addEventListener("click", showPlayer);
  el.back.addEventListener("click", showHome);

  boot();
})();

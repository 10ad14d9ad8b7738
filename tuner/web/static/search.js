/* tuner's search: the box on the home screen and its results (GET /api/search).
 *
 * A script of its own beside app.js: Search (or Enter) asks the daemon, which asks
 * yt-dlp, and each result becomes a card: thumbnail (served by the daemon itself, so
 * the car talks to one host), title, channel, duration or a LIVE badge. A tap on a
 * card plays it (tunerApp.start, which shows the player); "+ Queue" lines it up.
 * A search that fails says why, with a retry. Plain ES2019 for Chromium 79.
 */
(function () {
  "use strict";

  var LIMIT = 8;

  var $ = window.tunerPage.$;

  var el = {
    form: $("search-form"), query: $("query"), search: $("search"), box: $("results"),
    title: $("results-title"), status: $("results-status"), list: $("results-list")
  };
  if (!el.form || !el.list) return;

  var state = { query: null, results: [], searching: false, generation: 0 };

  var make = window.tunerPage.make;

  function meta(result) {
    var words = [];
    if (result.channel) words.push(result.channel);
    if (!result.is_live && typeof result.duration === "number") {
      words.push(window.tunerPage.duration(result.duration));
    }
    return words.join(" · ");
  }

  function card(result) {
    var item = make("li", "card" + (result.is_live ? " live" : ""));
    var play = make("button", "card-play");
    play.type = "button";
    play.setAttribute("aria-label", "Play " + result.title);
    var picture = make("span", "thumb");
    if (result.thumbnail) {
      var img = make("img");
      img.alt = "";
      // Native lazy loading (Chromium 77+); older ones just load them all.
      img.setAttribute("loading", "lazy");
      img.src = result.thumbnail;
      img.addEventListener("error", function () { picture.removeChild(img); });
      picture.appendChild(img);
    }
    if (result.is_live) picture.appendChild(make("span", "badge live", "LIVE"));
    play.appendChild(picture);
    var words = make("span", "card-words");
    words.appendChild(make("span", "title", result.title));
    words.appendChild(make("span", "meta", meta(result)));
    play.appendChild(words);
    play.addEventListener("click", function () {
      window.tunerApp.start("POST", "/api/play", window.tunerApp.withPicker({ query: result.url }),
        "play " + result.title);
    });
    item.appendChild(play);

    var queue = make("button", "quiet card-queue", "+ Queue");
    queue.type = "button";
    queue.setAttribute("aria-label", "Queue " + result.title);
    queue.addEventListener("click", function () { enqueue(result, queue); });
    item.appendChild(queue);
    return item;
  }

  function draw() {
    var list = el.list;
    while (list.firstChild) list.removeChild(list.firstChild);
    state.results.forEach(function (result) { list.appendChild(card(result)); });
  }

  function enqueue(result, button) {
    button.disabled = true;
    window.tunerPage.send("POST", "/api/queue", { query: result.url }).then(function (answer) {
      button.disabled = false;
      if (answer.ok) {
        button.textContent = "Queued ✓";
      } else {
        window.tunerApp.notice("Cannot queue " + result.title + ": " +
          window.tunerApp.errorSentence(answer, "HTTP " + answer.status), function () { enqueue(result, button); });
      }
    }, function () {
      button.disabled = false;
      window.tunerApp.notice("Cannot reach tuner to queue " + result.title + ".",
        function () { enqueue(result, button); });
    });
  }

  function search(words) {
    var generation = ++state.generation;
    state.query = words;
    state.searching = true;
    el.box.hidden = false;
    el.title.textContent = "Results for “" + words + "”";
    el.status.textContent = "Searching…";
    el.search.disabled = true;
    // The last search's results must not pass for this one's.
    state.results = [];
    draw();
    var done = function () {
      if (generation !== state.generation) return false;
      state.searching = false;
      el.search.disabled = false;
      return true;
    };
    window.tunerPage.send("GET", "/api/search?q=" + encodeURIComponent(words) + "&limit=" + LIMIT)
      .then(function (answer) {
        if (!done()) return;
        if (answer.status === 401) {
          window.location.reload();
          return;
        }
        if (!answer.ok || !answer.data || !Array.isArray(answer.data.results)) {
          state.results = [];
          draw();
          el.status.textContent = "";
          window.tunerApp.notice("Search failed: " +
            window.tunerApp.errorSentence(answer, "HTTP " + answer.status), function () { search(words); });
          return;
        }
        state.results = answer.data.results;
        el.status.textContent = state.results.length ? "" : "Nothing found. Try other words.";
        draw();
      }, function () {
        if (!done()) return;
        el.status.textContent = "";
        window.tunerApp.notice("Cannot reach tuner to search.", function () { search(words); });
      });
  }

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var words = el.query.value.trim();
    if (!words) {
      window.tunerApp.notice("Type what to look for, or paste a URL and tap Play.");
      return;
    }
    search(words);
  });
})();

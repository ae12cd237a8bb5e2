// mara dashboard: refresh the page's content in place and filter features as you type.
// Served by mara itself; it talks only to the server that sent it.
"use strict";
(function () {
  var PERIOD_MS = 5000;

  function filterFeatures() {
    var box = document.getElementById("feature-search");
    if (!box) return;
    var needle = box.value.trim().toLowerCase();
    document.querySelectorAll("tr[data-feature]").forEach(function (row) {
      row.hidden = needle !== "" && row.dataset.feature.toLowerCase().indexOf(needle) < 0;
    });
  }

  function bind() {
    var box = document.getElementById("feature-search");
    if (box) box.addEventListener("input", filterFeatures);
    filterFeatures();
    document.body.dataset.live = "on";
    var stamp = document.getElementById("refreshed");
    if (!stamp) {
      stamp = document.createElement("p");
      stamp.id = "refreshed";
      stamp.className = "meta";
      document.getElementById("live").appendChild(stamp);
    }
    stamp.textContent = "Live: refreshed " + new Date().toISOString().slice(11, 19) +
      " UTC, every " + PERIOD_MS / 1000 + " s.";
  }

  function refresh() {
    var box = document.getElementById("feature-search");
    var focused = box && document.activeElement === box;
    fetch(window.location.href, { headers: { "X-Mara-Live": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh) return;
        var query = box ? box.value : null;
        document.getElementById("live").replaceWith(fresh);
        var newBox = document.getElementById("feature-search");
        if (newBox && query !== null) {
          newBox.value = query;
          if (focused) newBox.focus();
        }
        bind();
      })
      .catch(function () { /* the server is restarting: try again next period */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind();
    window.setInterval(refresh, PERIOD_MS);
  });
})();

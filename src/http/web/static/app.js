// Keeps a signed-in page honest about its session: asks the server every few seconds
// (15 by default, as a background check that does not count as activity), returns to the sign-in page once the session has ended, and after two
// minutes without an answer says so (the clock turns red) until the server answers
// again, when the page reloads itself.
(function () {
  "use strict";
  var body = document.body;
  if (body.dataset.poll !== "on") return;
  var every = Number(body.dataset.pollMs || 15000);
  var lostAfter = Number(body.dataset.lostMs || 120000);
  var banner = document.getElementById("connection-lost");
  var clock = document.getElementById("clock");
  var lastAnswer = Date.now();

  function tick() {
    if (clock) clock.textContent = new Date().toLocaleTimeString();
  }

  function lost(isLost) {
    banner.hidden = !isLost;
    if (clock) clock.classList.toggle("lost", isLost);
  }

  function poll() {
    fetch("api/v1/session?background=true", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var wasLost = !banner.hidden;
        lastAnswer = Date.now();
        if (response.status === 403) {
          window.location.assign("login?blocked=1");
        } else if (response.status === 401) {
          window.location.assign("login?expired=1");
        } else if (wasLost) {
          window.location.reload();
        }
      })
      .catch(function () {
        if (Date.now() - lastAnswer >= lostAfter) lost(true);
      });
  }

  tick();
  setInterval(tick, 1000);
  setInterval(poll, every);
})();

// On the sign-in code page: counts down to when a new code may be asked for, then
// makes the "Resend the code" buttons active. The server counted the seconds, so the
// browser's own clock does not matter.
(function () {
  "use strict";
  var countdown = document.getElementById("countdown");
  if (!countdown) return;
  var left = Number(countdown.dataset.seconds || 0);
  var buttons = document.querySelectorAll("#resend-form button");

  function show() {
    if (left > 0) {
      countdown.textContent = countdown.textContent.replace(/\d+/, String(left));
      return;
    }
    countdown.hidden = true;
    buttons.forEach(function (b) { b.disabled = false; });
    clearInterval(timer);
  }

  var timer = setInterval(function () { left -= 1; show(); }, 1000);
  show();
})();

// On the backup codes page: the "Print" button.
(function () {
  "use strict";
  var print = document.getElementById("print-codes");
  if (print) print.addEventListener("click", function () { window.print(); });
})();

// Forms that ask before they go (switching back to oneself).
document.addEventListener("submit", function (event) {
  var question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The user switcher's live search: narrows the list as one types, by user, account or
// both; the form still searches on the server without JavaScript.
(function () {
  "use strict";
  var search = document.getElementById("switch-q");
  var kind = document.getElementById("switch-kind");
  if (!search || !kind) return;
  function filter() {
    var q = search.value.trim().toLowerCase();
    document.querySelectorAll("#switch-targets tr.target").forEach(function (row) {
      var user = row.dataset.user.indexOf(q) >= 0;
      var account = row.dataset.account.indexOf(q) >= 0;
      var shown = kind.value === "users" ? user : kind.value === "accounts" ? account : user || account;
      row.hidden = !shown;
    });
  }
  search.addEventListener("input", filter);
  kind.addEventListener("change", filter);
})();

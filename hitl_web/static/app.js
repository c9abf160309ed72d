// The only script of our own: show whether the live connection is up, and reconnect promptly.
// Everything else is htmx and server-rendered fragments.
document.addEventListener("DOMContentLoaded", function () {
  if (window.htmx) {
    // Retry after 0.25 s, 0.5 s, 1 s ... up to 5 s, instead of the extension's slower default.
    htmx.config.wsReconnectDelay = function (retries) { return Math.min(5000, 250 * Math.pow(2, retries)); };
    // An invalid decision (400), a refused one (403) or a late one (409) answers with the prompt
    // saying why: swap it in.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[039]", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }
  function show(state, text) {
    var el = document.getElementById("conn");
    if (el) { el.dataset.state = state; el.textContent = text; }
  }
  document.body.addEventListener("htmx:wsOpen", function () { show("live", "live"); });
  document.body.addEventListener("htmx:wsClose", function () { show("reconnecting", "reconnecting…"); });
  document.body.addEventListener("htmx:wsError", function () { show("reconnecting", "reconnecting…"); });
});

// My Aibud's only hand-written script. It is loaded from our own origin, so
// the Content-Security-Policy can forbid every inline script.
//
// The body carries data-live="connecting|open|reconnecting": the live-updates
// dot in the header shows it, and browser tests wait for "open".
(function () {
  function setLive(state) {
    document.body.dataset.live = state;
  }
  document.addEventListener("htmx:sseOpen", function () { setLive("open"); });
  document.addEventListener("htmx:sseError", function () { setLive("reconnecting"); });
  document.addEventListener("htmx:sseClose", function () { setLive("closed"); });

  // Make Content-Security-Policy violations visible in the console, where
  // the browser tests fail on them.
  document.addEventListener("securitypolicyviolation", function (e) {
    console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code"));
  });

  // Close the account menu when clicking elsewhere.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });
})();

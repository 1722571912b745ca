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

  // Sign-up: choose the browser's time zone and country in the selects
  // marked data-prefill (only on the form's first showing; the server's
  // defaults, UTC and no country, stay without JavaScript). The country is
  // the region of the first preferred language that names one ("es-ES"),
  // else the country of the time zone.
  function optionOf(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) return select.options[i];
    }
    return null;
  }
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function languageRegion() {
    var langs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language];
    for (var i = 0; i < langs.length; i++) {
      var region = "";
      try { region = new Intl.Locale(langs[i]).region || ""; } catch (e) {
        var m = /^[a-z]{2,3}[-_]([a-z]{2})\b/i.exec(langs[i] || "");
        region = m ? m[1] : "";
      }
      if (/^[A-Z]{2}$/i.test(region)) return region.toUpperCase();
    }
    return "";
  }
  function prefillLocale(root) {
    var zone = root.querySelector('select[data-prefill="timezone"]');
    var country = root.querySelector('select[data-prefill="country"]');
    if (zone) {
      var tz = browserZone();
      if (tz && !optionOf(zone, tz)) {
        // An older name of a listed zone (Chrome says Asia/Calcutta): the
        // server files it under the listed name.
        var extra = document.createElement("option");
        extra.value = tz;
        extra.textContent = tz.replace(/_/g, " ");
        zone.appendChild(extra);
      }
      if (tz) zone.value = tz;
      zone.removeAttribute("data-prefill");
    }
    if (country) {
      var region = languageRegion();
      if (!region || !optionOf(country, region)) {
        var chosen = zone && zone.selectedOptions[0];
        region = (chosen && chosen.dataset.country) || "";
      }
      if (region && optionOf(country, region)) country.value = region;
      country.removeAttribute("data-prefill");
    }
  }
  prefillLocale(document);
  document.addEventListener("htmx:load", function (e) { prefillLocale(e.target); });
})();

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
  // A page the browser keeps for Back (the back/forward cache) would keep
  // its stream open, one of the few connections a browser opens to a site:
  // a handful of pages later, the next one could not load. The stream
  // closes when the page is hidden, and a page shown again from that cache
  // is reloaded (its regions missed the updates meanwhile).
  window.addEventListener("pagehide", function () {
    var d = document.body && document.body["htmx-internal-data"];
    if (d && d.sseEventSource) d.sseEventSource.close();
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && document.body.hasAttribute("sse-connect")) location.reload();
  });

  // Make Content-Security-Policy violations visible in the console, where
  // the browser tests fail on them.
  document.addEventListener("securitypolicyviolation", function (e) {
    console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code"));
  });

  // Close the account menu when clicking elsewhere, when focus leaves it
  // (it would cover the navigation) and on Escape, back on its toggle.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });
  document.addEventListener("focusout", function (e) {
    var d = e.target.closest && e.target.closest("details.dropdown[open]");
    if (d && e.relatedTarget && !d.contains(e.relatedTarget)) d.removeAttribute("open");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      d.removeAttribute("open");
      if (d.contains(document.activeElement)) d.querySelector("summary").focus();
    });
  });

  // After an htmx swap, focus stays where the user works instead of falling
  // to <body> with the element that had it: on the first field with an
  // error, else on the field marked data-refocus (the reply box), else on
  // the new copy of the element that had focus. What the new content says
  // in an alert or status is read out through the page's announcer (a live
  // region that was there before, which swapped-in ones are not).
  var pending = {}; // swap target id -> what had focus in it
  function focusKey(el) {
    if (el.id) return "#" + CSS.escape(el.id);
    var t = el.getAttribute("data-testid");
    if (t) return '[data-testid="' + CSS.escape(t) + '"]';
    if (el.name) return el.tagName.toLowerCase() + '[name="' + CSS.escape(el.name) + '"]';
    if (el.getAttribute("href")) return 'a[href="' + CSS.escape(el.getAttribute("href")) + '"]';
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target, active = document.activeElement, cfg = e.detail.requestConfig || {};
    if (!target || !target.id) return;
    var inside = active && active !== document.body && target.contains(active);
    // A form the user sent (live regions only ever GET their partial). A
    // click on a button does not focus it in every browser.
    var sent = cfg.verb && cfg.verb !== "get" && cfg.elt && target.contains(cfg.elt);
    if (inside || sent) pending[target.id] = { old: target, active: inside ? active : null, key: inside ? focusKey(active) : null, user: !!sent };
  });
  function announce(text) {
    var region = document.getElementById("announce");
    if (!region || !text) return;
    region.textContent = "";
    // Set apart from the clearing, so the same words twice are read twice.
    setTimeout(function () { region.textContent = text; }, 60);
  }
  function refocus(before, root) {
    var said = [];
    root.querySelectorAll('[role="alert"], [role="status"]').forEach(function (m) {
      if (m.textContent.trim()) said.push(m.textContent.trim().replace(/\s+/g, " "));
    });
    if (before.user) announce(said.join(" "));
    // A live region's re-fetch leaves focus on a field it kept as it was
    // (hx-preserve: an answer being typed), even when another kept field
    // is marked invalid.
    if (!before.user && before.active && before.active.isConnected && root.contains(before.active)) {
      if (document.activeElement !== before.active) before.active.focus();
      return;
    }
    var next = root.querySelector('[aria-invalid="true"]') ||
      (before.user && root.querySelector("[data-refocus]")) ||
      (before.key && (root.matches(before.key) ? root : root.querySelector(before.key)));
    if (next && document.activeElement !== next) next.focus();
  }
  document.addEventListener("htmx:afterSettle", function () {
    Object.keys(pending).forEach(function (id) {
      var before = pending[id], root = document.getElementById(id);
      // Not swapped yet (another region settled first), or merged in place
      // with focus kept.
      if (root === before.old && (!before.active || before.active.isConnected)) return;
      delete pending[id];
      if (root) refocus(before, root);
    });
  });

  // Scrollable regions (a wide table on a narrow screen) take focus and say
  // what they hold, so they can be scrolled from the keyboard; a region
  // that fits takes no tab stop.
  function regionName(wrap) {
    var cap = wrap.querySelector("caption");
    if (cap) return cap.textContent.trim();
    var section = wrap.closest("section, article") || document.querySelector("main");
    var h = section && section.querySelector("h1, h2, h3, header strong");
    return h ? h.textContent.trim() + " (table)" : "Table";
  }
  function markScrollable() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        if (!wrap.hasAttribute("aria-label")) wrap.setAttribute("aria-label", regionName(wrap));
      } else if (wrap.hasAttribute("tabindex")) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
      }
    });
  }
  htmx.onLoad(markScrollable);
  window.addEventListener("resize", markScrollable);

  // Conversations (elements with data-follow) open at the newest message
  // and follow new ones, unless the reader scrolled up to read older ones;
  // then a button offers the way down.
  var follow = {}; // element id -> {pinned, top, last, unseen}
  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 48; }
  document.addEventListener("scroll", function (e) {
    var el = e.target;
    if (!el.dataset || el.dataset.follow === undefined || !el.id) return;
    var st = follow[el.id] || {};
    st.pinned = atBottom(el);
    st.top = el.scrollTop;
    if (st.pinned) {
      st.unseen = false;
      var b = el.querySelector(".new-below");
      if (b) b.remove();
    }
    follow[el.id] = st;
  }, true);
  function showNewBelow(el) {
    if (el.querySelector(".new-below")) return;
    var b = document.createElement("button");
    b.type = "button";
    b.className = "new-below";
    b.textContent = "↓ New messages";
    b.dataset.testid = "new-below";
    b.addEventListener("click", function () { el.scrollTop = el.scrollHeight; });
    el.appendChild(b);
  }
  function placeFollow(el) {
    var st = follow[el.id];
    if (!st || st.pinned) {
      el.scrollTop = el.scrollHeight;
      follow[el.id] = { pinned: true, top: el.scrollTop, last: el.dataset.last };
      return;
    }
    el.scrollTop = st.top;
    if (st.last !== el.dataset.last) st.unseen = true;
    st.last = el.dataset.last;
    if (st.unseen) showNewBelow(el);
  }
  htmx.onLoad(function (root) {
    var els = root.matches && root.matches("[data-follow]") ? [root] : root.querySelectorAll("[data-follow]");
    els.forEach(placeFollow);
  });
  // A conversation is a log (role="log"): a screen reader reads what is
  // added to it. Replacing it whole on each update would add nothing (a new
  // element) or everything, so the re-fetched copy is merged in: new
  // messages (data-id) are appended, and the ones already shown change in
  // place (a delivery tick), which reads nothing out.
  function morph(live, next) {
    if (live.nodeType === Node.TEXT_NODE) {
      if (live.nodeValue !== next.nodeValue) live.nodeValue = next.nodeValue;
      return;
    }
    Array.from(live.attributes).forEach(function (a) { if (!next.hasAttribute(a.name)) live.removeAttribute(a.name); });
    Array.from(next.attributes).forEach(function (a) { if (live.getAttribute(a.name) !== a.value) live.setAttribute(a.name, a.value); });
    var lc = live.childNodes, nc = next.childNodes, same = lc.length === nc.length;
    for (var i = 0; same && i < lc.length; i++) same = lc[i].nodeName === nc[i].nodeName;
    if (!same) { live.replaceChildren.apply(live, Array.from(nc).map(function (n) { return n.cloneNode(true); })); return; }
    for (var j = 0; j < lc.length; j++) morph(lc[j], nc[j]);
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = e.detail.target;
    if (!el || !el.matches('[role="log"][data-follow]') || !e.detail.shouldSwap || e.detail.isError) return;
    var tpl = document.createElement("template");
    tpl.innerHTML = e.detail.serverResponse;
    var fresh = tpl.content.firstElementChild;
    if (!fresh || fresh.id !== el.id) return;
    e.detail.shouldSwap = false;
    delete pending[el.id]; // merged in place: focus stays where it is
    var shown = {};
    el.querySelectorAll(":scope > [data-id]").forEach(function (b) { shown[b.dataset.id] = b; });
    var below = el.querySelector(":scope > .new-below");
    Array.from(el.children).forEach(function (c) { if (!c.dataset.id && c !== below) c.remove(); });
    Array.from(fresh.children).forEach(function (b) {
      var old = b.dataset.id && shown[b.dataset.id];
      if (old) { morph(old, b); delete shown[b.dataset.id]; return; }
      el.insertBefore(b, below);
    });
    Object.keys(shown).forEach(function (id) { shown[id].remove(); });
    ["data-last", "aria-label"].forEach(function (a) { el.setAttribute(a, fresh.getAttribute(a) || ""); });
    placeFollow(el);
  });
  // Writing a reply means reading the newest again.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var f = e.detail.elt;
    if (f.matches && f.matches("form[data-draft]")) {
      var input = f.querySelector("[name=body]");
      // Kept until the answer says it was sent: the session may have ended.
      if (input) try { localStorage.setItem(draftKey(f), input.value); } catch (_) { /* ignore */ }
      document.querySelectorAll("[data-follow]").forEach(function (el) { follow[el.id] = { pinned: true }; });
    }
  });

  // What is typed into a reply box (form[data-draft]) survives a reload, a
  // failed send and a sign-in in between: it is kept in this browser until
  // the reply is sent.
  function draftKey(form) { return "draft:" + form.dataset.draft; }
  document.addEventListener("input", function (e) {
    var form = e.target.form;
    if (!form || form.dataset.draft === undefined) return;
    try { localStorage.setItem(draftKey(form), e.target.value); } catch (_) { /* storage full or off */ }
  });
  // Signing out here forgets this browser's drafts.
  document.addEventListener("submit", function (e) {
    if (!e.target.matches("form[data-sign-out]")) return;
    try {
      Object.keys(localStorage).forEach(function (k) { if (k.indexOf("draft:") === 0) localStorage.removeItem(k); });
    } catch (_) { /* ignore */ }
  }, true);
  htmx.onLoad(function (root) {
    var forms = root.matches && root.matches("form[data-draft]") ? [root] : root.querySelectorAll("form[data-draft]");
    forms.forEach(function (form) {
      var input = form.querySelector("[name=body]");
      if (!input) return;
      if (form.dataset.sent !== undefined) {
        try { localStorage.removeItem(draftKey(form)); } catch (_) { /* ignore */ }
        return;
      }
      var saved = null;
      try { saved = localStorage.getItem(draftKey(form)); } catch (_) { /* ignore */ }
      if (saved && !input.value) input.value = saved;
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
  // Campaign message: a variable chip (data-insert) puts its {{column}} at
  // the cursor of the message field last used, and the preview follows.
  var lastText = null;
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches(".text-fields textarea")) lastText = e.target;
  });
  document.addEventListener("click", function (e) {
    var chip = e.target.closest && e.target.closest("[data-insert]");
    if (!chip) return;
    var form = chip.closest("form");
    var field = lastText && form && form.contains(lastText) ? lastText : form && form.querySelector(".text-fields textarea");
    if (!field) return;
    field.setRangeText(chip.dataset.insert, field.selectionStart, field.selectionEnd, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

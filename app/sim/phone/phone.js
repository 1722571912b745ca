// The phone page without reloads: forms are sent with fetch, and the live
// part of the page (#live) is long-polled from ?live=1&v=<version>, which
// the server answers as soon as something changes.
(() => {
  "use strict";
  const live = document.getElementById("live");
  if (!live) return;
  const flash = document.getElementById("flash");
  let version = live.dataset.version || "0";
  let pending = null;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function liveURL(wait) {
    const u = new URL(location.href);
    u.searchParams.set("live", "1");
    u.searchParams.delete("err");
    if (wait) u.searchParams.set("v", version);
    return u;
  }

  function busy() {
    const a = document.activeElement;
    return a && live.contains(a) && a.matches("input, textarea, select");
  }

  function swap(html) {
    if (busy()) {
      pending = html;
      return;
    }
    pending = null;
    live.innerHTML = html;
    settle();
  }

  function settle() {
    const st = live.querySelector("[data-status]");
    if (st) document.body.dataset.status = st.dataset.status;
    const list = live.querySelector(".messages");
    if (list) list.scrollTop = list.scrollHeight;
    tick();
  }

  async function load(wait) {
    const res = await fetch(liveURL(wait), { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const v = res.headers.get("X-Version") || version;
    const html = await res.text();
    if (v !== version || !wait) {
      version = v;
      swap(html);
    }
  }

  async function poll() {
    for (;;) {
      try {
        await load(true);
      } catch (e) {
        await sleep(2000);
      }
    }
  }

  function say(text) {
    if (!flash) return;
    flash.textContent = text;
    flash.hidden = !text;
  }

  function openChat(chat) {
    const u = new URL(location.href);
    u.searchParams.delete("err");
    if (chat) u.searchParams.set("chat", chat);
    history.replaceState(null, "", u);
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.classList.contains("js-post")) return;
    e.preventDefault();
    const body = new URLSearchParams(new FormData(form, e.submitter));
    try {
      const res = await fetch(form.action, { method: "POST", body, headers: { "X-Phone-Fetch": "1" } });
      if (!res.ok) {
        say(await res.text());
        return;
      }
      say("");
      const chat = res.headers.get("X-Chat");
      if (chat) openChat(chat);
      form.querySelectorAll("textarea").forEach((t) => { t.value = ""; });
      // A sample file goes once: the next message is text again.
      form.querySelectorAll("select[name=media]").forEach((s) => { s.value = ""; });
      pending = null;
      if (document.activeElement && live.contains(document.activeElement)) document.activeElement.blur();
      await load(false);
    } catch (err) {
      say("The stand-in did not answer: " + err.message);
    }
  });

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || !e.target.matches(".compose textarea")) return;
    e.preventDefault();
    e.target.form.requestSubmit();
  });

  live.addEventListener("focusout", () => {
    setTimeout(() => { if (pending !== null && !busy()) swap(pending); }, 0);
  });

  function tick() {
    live.querySelectorAll(".countdown[data-until]").forEach((el) => {
      const left = Math.max(0, Math.round((Number(el.dataset.until) - Date.now()) / 1000));
      el.textContent = String(left);
    });
  }
  setInterval(tick, 1000);

  settle();
  poll();
})();

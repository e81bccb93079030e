// The dashboard's live parts: the log stream, live refreshes, the time slider, and
// the forms that act (posted without a page reload; the stream then redraws).
// No framework and no build step. Every piece of HTML inserted here was rendered
// (and escaped) by the server's templates; nothing from the ledger is turned into
// markup in the browser.
"use strict";

(() => {
  const view = document.getElementById("view");
  if (!view) return; // the login page
  const MAX_ROWS = 200;
  const REFRESH_MS = 300;
  let source = null;
  let refreshTimer = null;
  let loadTimer = null;
  let loading = null; // the slider's request in flight, if any

  const root = () => view.querySelector(".view-root");
  const isLive = () => root()?.dataset.live === "1";

  function signIn() {
    const here = location.pathname + location.search;
    location.assign(`/dashboard/login?expired=1&next=${encodeURIComponent(here)}`);
  }

  function showState(state, text) {
    const badge = document.getElementById("live-state");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = text;
  }

  async function fetchView(asOf, signal) {
    const url = new URL(view.dataset.partial, location.origin);
    if (asOf) url.searchParams.set("as_of", asOf);
    const response = await fetch(url, {
      signal,
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
    if (response.status === 401) {
      signIn();
      return null;
    }
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    return template.content;
  }

  // The whole view at a time (the slider), or back to live.
  async function show(asOf) {
    loadTimer = null;
    loading?.abort();
    const mine = new AbortController();
    loading = mine;
    let content;
    try {
      content = await fetchView(asOf, mine.signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      throw error;
    } finally {
      if (loading === mine) loading = null;
    }
    if (!content) return;
    const hadFocus = document.activeElement?.id === "slider";
    view.replaceChildren(content);
    const page = new URL(view.dataset.page, location.origin);
    if (asOf) page.searchParams.set("as_of", asOf);
    history.replaceState(null, "", page.pathname + page.search + location.hash);
    start();
    if (hadFocus) document.getElementById("slider")?.focus();
  }

  // Live: re-render the sections that change (the log rows arrive by themselves).
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      if (!isLive() || loadTimer || loading) return;
      // Someone is filling in a form: redraw once it is closed or sent.
      if (view.querySelector("details.act[open]")) {
        scheduleRefresh();
        return;
      }
      const content = await fetchView("");
      // The slider may have moved while this was on its way: then it is stale.
      if (!content || !isLive() || loadTimer || loading) return;
      // Keyboard focus survives the redraw: on the fresh copy of what had it.
      const focused = document.activeElement?.id;
      for (const fresh of content.querySelectorAll("[data-refresh]")) {
        document.getElementById(fresh.id)?.replaceWith(fresh);
      }
      bindSlider();
      if (focused && document.activeElement?.id !== focused) {
        document.getElementById(focused)?.focus();
      }
    }, REFRESH_MS);
  }

  function addRow(html, position) {
    const rows = document.getElementById("log-rows");
    if (!rows) return;
    if (rows.querySelector(`tr[data-position="${position}"]`)) return;
    const template = document.createElement("template");
    template.innerHTML = html;
    const row = template.content.firstElementChild;
    if (!row) return;
    row.classList.add("fresh");
    rows.prepend(row);
    view.querySelector(".empty-log")?.remove();
    while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  }

  function connect() {
    disconnect();
    const since = root()?.dataset.since || "0";
    source = new EventSource(`/dashboard/stream?since=${encodeURIComponent(since)}`);
    source.addEventListener("open", () => showState("live", "live"));
    source.addEventListener("entry", (event) => {
      addRow(event.data, event.lastEventId);
      scheduleRefresh();
    });
    source.addEventListener("signed_out", () => {
      disconnect();
      signIn();
    });
    source.addEventListener("error", async () => {
      showState("retrying", "reconnecting…");
      if (source && source.readyState === EventSource.CLOSED) {
        // The server refused the reconnection: find out whether we are still signed in.
        disconnect();
        const check = await fetch(view.dataset.partial, { cache: "no-store" });
        if (check.status === 401) signIn();
        else setTimeout(start, 2000);
      }
    });
  }

  function disconnect() {
    source?.close();
    source = null;
  }

  function stepsOf(slider) {
    return JSON.parse(slider.dataset.steps || "[]");
  }

  // The moment a slider position stands for ("" is now, live).
  function chosen(slider) {
    const value = Number(slider.value);
    if (slider.dataset.mode === "steps") {
      const steps = stepsOf(slider);
      return value >= steps.length - 1 ? "" : steps[value].at;
    }
    if (value >= Number(slider.max)) return "";
    return new Date(value * 1000).toISOString();
  }

  // A time as every human face writes it (UTC, whole seconds, Z): render.py's clock().
  function human(moment) {
    return moment.replace(/\.\d+/, "").replace(/\+00:00$/, "Z");
  }

  function describe(slider) {
    const label = document.getElementById("slider-label");
    if (!label) return;
    const moment = chosen(slider);
    if (!moment) {
      label.textContent = "now (live)";
    } else if (slider.dataset.mode === "steps") {
      const steps = stepsOf(slider);
      const step = Number(slider.value);
      label.textContent = `${human(moment)}: ${steps[step].what} (step ${step + 1} of ${steps.length})`;
    } else {
      label.textContent = human(moment);
    }
  }

  function bindSlider() {
    const slider = document.getElementById("slider");
    if (!slider || slider.dataset.bound) return;
    slider.dataset.bound = "1";
    slider.addEventListener("input", () => {
      describe(slider);
      clearTimeout(loadTimer);
      loadTimer = setTimeout(() => show(chosen(slider)), 250);
    });
    slider.addEventListener("change", () => {
      clearTimeout(loadTimer);
      show(chosen(slider));
    });
    // Moved before this script ran (the page shows before its script has loaded, and
    // the browser moves a focused range input by itself): act on that move now, not
    // never. Only a slider in the viewer's hands: the browser also changes the value
    // of one left alone (clamped into its range, or a disabled slider's midpoint).
    const moved = slider.value !== slider.defaultValue;
    if (moved && !slider.disabled && document.activeElement === slider) {
      describe(slider);
      show(chosen(slider));
    }
  }

  // A form that acts: posted with fetch; its answer shown where it is.
  view.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-act]");
    if (!form) return;
    event.preventDefault();
    const answer = form.querySelector(".act-answer");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    answer.dataset.state = "pending";
    answer.textContent = "sending…";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (response.status === 401) {
        signIn();
        return;
      }
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        answer.dataset.state = "done";
        answer.textContent = "done";
        form.reset();
        form.closest("details").open = false;
        scheduleRefresh();
      } else {
        answer.dataset.state = "error";
        answer.textContent = body.error?.message || `refused (${response.status})`;
      }
    } catch (error) {
      answer.dataset.state = "error";
      answer.textContent = "the server did not answer: try again";
    } finally {
      button.disabled = false;
    }
  });

  // Arriving from "waiting on you" (#act-ID): open that handoff's first form.
  function openActions() {
    if (!location.hash.startsWith("#act-")) return;
    const first = document.getElementById(location.hash.slice(1))?.querySelector("details.act");
    if (!first) return;
    first.open = true;
    const field = first.querySelector("input:not([type=hidden]), textarea, select");
    // Once the page has loaded: the browser's own move to the #fragment comes first.
    if (document.readyState === "complete") field?.focus();
    else window.addEventListener("load", () => field?.focus(), { once: true });
  }

  function start() {
    bindSlider();
    for (const link of view.querySelectorAll("[data-live-link]")) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        show("");
      });
    }
    if (isLive()) {
      if (!source) connect();
    } else {
      disconnect();
      showState("past", "past view");
    }
  }

  start();
  openActions();
})();

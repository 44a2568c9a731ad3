// Clinic dashboard: poll status.json while provisioning runs, update the page in place.
// No framework; every value goes in through textContent, never innerHTML.
(function () {
  "use strict";
  var card = document.getElementById("status-card");
  if (!card || !window.fetch) return;

  var url = card.getAttribute("data-status-url");
  var SETTLED = ["new", "active", "failed", "deprovisioned"];
  var RETRY_VISIBLE = ["failed", "retrying"];
  var OUTCOMES = { ok: "OK", error: "Error", skipped: "Skipped" };
  var failures = 0;
  var timeFmt = new Intl.DateTimeFormat("en-US", {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false, timeZone: "UTC"
  });

  function el(name) { return card.querySelector('[data-field="' + name + '"]'); }
  function setText(name, value) {
    var node = el(name);
    if (node && node.textContent !== value) node.textContent = value;
  }
  function show(node, visible) { if (node) node.hidden = !visible; }

  function renderEvents(events) {
    var list = document.getElementById("events");
    if (!list) return;
    var items = events.map(function (e) {
      var li = document.createElement("li");
      li.className = "events__item events__item--" + e.outcome;
      var t = document.createElement("time");
      t.dateTime = e.at;
      t.textContent = timeFmt.format(new Date(e.at));
      li.appendChild(t);
      [["events__action", e.action], ["events__outcome", OUTCOMES[e.outcome] || e.outcome],
        ["events__detail", e.detail]].forEach(function (part) {
          if (!part[1]) return;
          var span = document.createElement("span");
          span.className = part[0];
          span.textContent = part[1];
          li.appendChild(span);
        });
      return li;
    });
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = list.getAttribute("data-empty");
      items = [empty];
    }
    list.replaceChildren.apply(list, items);
  }

  function renderSteps(steps) {
    var list = document.getElementById("prov-steps");
    if (!list) return;
    list.hidden = !steps.length;
    steps.forEach(function (step) {
      var item = list.querySelector('[data-step="' + step.key + '"]');
      if (!item) return;
      item.className = "prov-step prov-step--" + step.status;
      var badge = item.querySelector("[data-step-status]");
      badge.className = "badge badge--" + step.status;
      if (badge.textContent !== step.status_label) badge.textContent = step.status_label;
    });
  }

  function render(s) {
    var badge = el("state_label");
    if (badge) badge.className = "badge badge--state badge--" + s.state;
    setText("state_label", s.state_label);
    setText("state_sentence", s.state_sentence);
    setText("trunk_id", s.trunk_id || "—");
    setText("dispatch_rule_id", s.dispatch_rule_id || "—");
    setText("last_error", s.last_error || "");
    setText("attempts_text", s.attempts ? "Attempts so far: " + s.attempts + "." : "");
    setText("next_attempt_text", s.state === "retrying" && s.next_attempt_at
      ? "Next try at " + timeFmt.format(new Date(s.next_attempt_at)) + " UTC." : "");
    show(el("last_error_box"), !!s.last_error);
    show(document.getElementById("retry-form"), RETRY_VISIBLE.indexOf(s.state) !== -1);
    show(card.querySelector('[data-show-when="busy"]'), !isSettled(s));
    card.setAttribute("data-state", s.state);
    renderSteps(s.steps || []);
    renderEvents(s.events || []);
  }

  function isSettled(s) { return s.settled || SETTLED.indexOf(s.state) !== -1; }

  function schedule(ms) { window.setTimeout(poll, ms); }

  function poll() {
    if (document.hidden) {  // no polling in a background tab; resume when it is shown
      document.addEventListener("visibilitychange", poll, { once: true });
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (s) {
        failures = 0;
        render(s);
        if (!isSettled(s)) schedule(s.state === "retrying" ? 4000 : 1500);
      })
      .catch(function () {
        failures += 1;  // back off on errors (network blip, server restart), keep trying
        schedule(Math.min(30000, 1500 * Math.pow(2, failures)));
      });
  }

  if (card.getAttribute("data-settled") !== "true") schedule(1500);
})();

// Clinic dashboard: poll status.json while provisioning runs, update the page in place:
// the header, the status card, the checklist and the activity, together (one response);
// and while the clinic moves to another LiveKit project, the move card (decision 0131).
// Times come as text in the clinic's zone from the server. No framework; every value goes
// in through textContent, never innerHTML.
(function () {
  "use strict";
  var card = document.getElementById("status-card");
  if (!card || !window.fetch) return;

  var url = card.getAttribute("data-status-url");
  var SETTLED = ["new", "active", "failed", "deprovisioned"];
  var RETRY_VISIBLE = ["failed", "retrying"];
  var failures = 0;

  function el(name) { return card.querySelector('[data-field="' + name + '"]'); }
  function setText(name, value) {
    var node = el(name);
    if (node && node.textContent !== value) node.textContent = value;
  }
  function show(node, visible) { if (node) node.hidden = !visible; }

  function renderEvents(events) {
    var list = document.getElementById("events");
    var raw = document.getElementById("events-raw");
    if (!list) return;
    var items = events.map(function (e) {
      var li = document.createElement("li");
      li.className = "events__item events__item--" + e.outcome;
      var t = document.createElement("time");
      t.dateTime = e.at;
      t.textContent = e.at_text;
      li.appendChild(t);
      var span = document.createElement("span");
      span.className = "events__sentence";
      span.textContent = e.sentence;
      li.appendChild(document.createTextNode(" "));
      li.appendChild(span);
      return li;
    });
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = list.getAttribute("data-empty");
      items = [empty];
    }
    list.replaceChildren.apply(list, items);
    if (!raw) return;
    raw.replaceChildren.apply(raw, events.map(function (e) {
      var li = document.createElement("li");
      var code = document.createElement("code");
      code.textContent = e.at + " " + e.action + " " + e.outcome;
      li.appendChild(code);
      if (e.detail) li.appendChild(document.createTextNode(" " + e.detail));
      return li;
    }));
  }

  function renderChecklist(items) {
    items.forEach(function (item) {
      var li = document.querySelector('#go-live-checklist [data-check="' + item.key + '"]');
      if (!li) return;
      li.className = "progress-list__item progress-list__item--" + item.status;
      var parts = {
        title: item.title, status: item.status_label, detail: item.detail,
        at: item.at_text ? " (" + item.at_text + ")" : ""
      };
      Object.keys(parts).forEach(function (name) {
        var node = li.querySelector('[data-part="' + name + '"]');
        if (node && node.textContent !== parts[name]) node.textContent = parts[name];
      });
      var badge = li.querySelector('[data-part="status"]');
      if (badge) badge.className = "badge badge--" + item.status;
    });
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

  function moveCard() { return document.getElementById("move-card"); }
  function moving(s) { return !!(s.move && s.move.moving); }

  function renderMove(m) {
    var box = moveCard();
    if (!box || !m) return;  // no card: the page was loaded with no move open
    function field(name, value) {
      var node = box.querySelector('[data-field="' + name + '"]');
      if (node && node.textContent !== value) node.textContent = value;
      return node;
    }
    var waiting = !!(m.moving && m.waiting_for_you);
    field("move_heading", m.heading);
    field("move_sentence", m.sentence);
    box.setAttribute("data-move-state", m.state);
    box.setAttribute("data-moving", m.moving ? "true" : "false");
    box.classList.toggle("card--accent", waiting);
    box.querySelectorAll('[data-move-show="waiting"]').forEach(function (node) {
      node.hidden = !waiting;
    });
    if (!m.moving) return;
    field("move_new_sip_uri", m.new_sip_uri);
    field("move_old_sip_uri", m.old_sip_uri);
    var numbers = box.querySelector('[data-field="move_numbers"]');
    if (numbers && numbers.textContent !== m.numbers.join(", ")) {
      var parts = [];
      m.numbers.forEach(function (n, i) {
        if (i) parts.push(document.createTextNode(", "));
        var code = document.createElement("code");
        code.textContent = n;
        parts.push(code);
      });
      numbers.replaceChildren.apply(numbers, parts);
    }
  }

  function render(s) {
    var badge = el("state_label");
    if (badge) badge.className = "badge badge--state badge--" + s.state;
    setText("state_label", s.state_label);
    setText("state_sentence", s.state_sentence);
    setText("trunk_id", s.trunk_id || "—");
    setText("dispatch_rule_id", s.dispatch_rule_id || "—");
    setText("last_error", s.last_error || "—");
    setText("problem", s.problem || "");
    if (s.carrier) {  // the carrier card, outside the status card
      [["carrier_label", s.carrier.label], ["carrier_sentence", s.carrier.sentence]].forEach(
        function (pair) {
          var node = document.querySelector('#carrier-card [data-field="' + pair[0] + '"]');
          if (node && node.textContent !== pair[1]) node.textContent = pair[1];
        });
      var carrierBadge = document.querySelector('#carrier-card [data-field="carrier_label"]');
      if (carrierBadge) {
        carrierBadge.className = "badge badge--" + (s.carrier.ready ? "done" :
          (s.carrier.status === "failed" ? "failed" : "carrier_waiting"));
      }
      show(document.querySelector('#carrier-card [data-carrier-show="not-ready"]'), !s.carrier.ready);
      show(document.querySelector('#carrier-card [data-carrier-show="connected"]'),
        s.carrier.status === "connected");
    }
    setText("attempts_text", s.attempts ? "Attempts so far: " + s.attempts + "." : "");
    setText("next_attempt_text", s.next_attempt_text ? "Next try at " + s.next_attempt_text + "." : "");
    var header = document.querySelector('[data-live="clinic_state_label"]');
    if (header && header.textContent !== s.clinic_state_label) header.textContent = s.clinic_state_label;
    show(el("last_error_box"), !!s.last_error);
    show(document.getElementById("retry-form"), RETRY_VISIBLE.indexOf(s.state) !== -1);
    show(card.querySelector('[data-show-when="busy"]'), !isSettled(s));
    card.setAttribute("data-state", s.state);
    renderSteps(s.steps || []);
    renderChecklist(s.checklist || []);
    renderEvents(s.events || []);
    renderMove(s.move);
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
        // A move can wait days for the clinic's carrier: slower polls while it does.
        else if (moving(s)) schedule(s.move.waiting_for_you ? 10000 : 3000);
      })
      .catch(function () {
        failures += 1;  // back off on errors (network blip, server restart), keep trying
        schedule(Math.min(30000, 1500 * Math.pow(2, failures)));
      });
  }

  var box = moveCard();
  if (card.getAttribute("data-settled") !== "true" || (box && box.getAttribute("data-moving") === "true")) {
    schedule(1500);
  }
})();

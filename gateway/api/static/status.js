// The till's status page (docs/status-page.md): reads GET /v1/status, the last receipts and
// the last Z report with the session cookie, follows GET /v1/events, and reads again on
// every event and every few seconds. It only reads; it never sends anything but GETs.
"use strict";

(function () {
  const statusView = document.getElementById("status");
  if (!statusView || statusView.hidden) return; // the login form: nothing to show yet

  const REFRESH_MS = 5000;
  // The page's words in the till's language: the server puts them in the "words" data block
  // (docs/languages.md). a text is marked as t(words); "{name}" is filled from `values`.
  const WORDS = JSON.parse(document.getElementById("words").textContent || "{}");
  const t = (words, values = {}) =>
    (WORDS[words] || words).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  const STATE_WORDS = {
    ready: t("Ready"), degraded: t("Warning"), failed: t("Fault"), connecting: t("Connecting"), none: t("Off"),
    ok: t("OK"), error: t("Fault"),
  };
  const DEVICE_NAMES = [
    ["control_unit", t("Control unit")],
    ["printer", t("Printer")],
    ["scanner", t("Barcode scanner")],
    ["bus", t("Bus to the bookkeeping")],
    ["catalog", t("Article register")],
    ["storage", t("Disk (the journal)")],
  ];
  // The receipt kinds' names are the Swedish words the law prints on the receipt, in any language.
  const KIND_TAGS = { kopia: "KOPIA", ovning: "ÖVNING", profo: "PROFORMA" };

  const $ = (id) => document.getElementById(id);
  const money = (text) => {
    const [whole, part = "00"] = String(text).split(".");
    const sign = whole.startsWith("-") ? "−" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
    return `${sign}${digits},${part.padEnd(2, "0")}\u00a0kr`;
  };
  const time = (iso) => {
    if (!iso) return "–";
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return iso;
    const hms = at.toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const today = new Date().toDateString() === at.toDateString();
    return today ? hms : `${at.toLocaleDateString("sv-SE")} ${hms}`;
  };
  const age = (seconds) => {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${Math.round(seconds)} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1).replace(".", ",")} h`;
  };
  const text = (id, value) => { $(id).textContent = value; };

  // -- devices ---------------------------------------------------------------------------

  const devices = {};

  function deviceRow(key, name) {
    const li = document.createElement("li");
    li.className = "device";
    li.dataset.device = key;
    li.dataset.state = "none";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const badge = document.createElement("span");
    badge.className = "badge state";
    const reason = document.createElement("span");
    reason.className = "reason";
    li.append(label, badge, reason);
    $("devices").append(li);
    return li;
  }

  function showDevice(key, state, reason, extra = false) {
    const name = DEVICE_NAMES.find(([k]) => k === key);
    if (!name) return;
    const li = devices[key] || (devices[key] = deviceRow(key, name[1]));
    li.dataset.state = state;
    li.querySelector(".state").textContent = STATE_WORDS[state] || state;
    li.querySelector(".reason").textContent = state === "ready" && !extra ? "" : reason; // the badge says it
    // Keep the rows in the order of DEVICE_NAMES whatever order they came in.
    for (const [k] of DEVICE_NAMES) if (devices[k]) $("devices").append(devices[k]);
  }

  function showStatus(s) {
    text("who", t("{shop} · till {register}", { shop: s.shop, register: s.register }));
    for (const [key, device] of Object.entries(s.devices || {})) showDevice(key, device.state, device.reason);
    if (s.bus) showDevice("bus", s.bus.state, s.bus.reason);
    else showDevice("bus", "none", t("No bus: the till sends nothing to the bookkeeping"));
    const updates = s.catalog && s.catalog.updates;
    const held = s.catalog
      ? t("version {revision}, {articles} articles", { revision: s.catalog.revision, articles: s.catalog.articles })
      : "";
    if (updates) showDevice("catalog", updates.state, updates.state === "ready" ? held : `${updates.reason} — ${held}`, true);
    else showDevice("catalog", "none", t("No updates without a bus — {held}", { held }), true);
    // The disk the journal is on: a full disk is named as such, never as the control unit.
    const disk = s.storage;
    if (disk) {
      const free = t("{free} MiB free of {size} MiB on {path}", { free: disk.free_mib, size: disk.size_mib, path: disk.path });
      showDevice("storage", disk.state, disk.state === "ready" ? free : `${disk.reason} — ${free}`, true);
    }

    text("outbox-depth", s.bus ? t("{count} messages", { count: s.bus.depth }) : t("No bus"));
    text("outbox-age", s.bus && s.bus.depth ? age(s.bus.oldest_unacked_age_s) : "–");
    showHeld(s.bus);
    const r = s.receipts || {};
    text("last-number", r.last_number === null || r.last_number === undefined ? "–" : String(r.last_number));
    text("unprinted", String(r.unprinted ?? "–"));
    const doubt = r.waiting_for_control_unit || [];
    const space = r.waiting_for_disk_space || [];
    text(
      "in-doubt",
      [
        doubt.length ? doubt.join(", ") : t("None"),
        space.length ? t("(waiting for disk space: {receipts})", { receipts: space.join(", ") }) : "",
      ]
        .join(" ")
        .trim(),
    );
    showSync(s.sync);
    showOutage(s.outage);
  }

  // The control unit unusable too long in opening hours: sales are refused, a fault report is owed.
  function showOutage(outage) {
    const box = $("outage");
    box.hidden = !outage;
    if (!outage) return;
    box.dataset.ongoing = outage.ongoing ? "yes" : "no";
    text("outage-title", outage.ongoing ? t("The control unit does not answer") : t("The control unit was out (ended)"));
    text("outage-message", outage.message);
  }

  // Messages the sync module holds: kept by the till, not resent, something for a person to act on.
  function showHeld(bus) {
    text("outbox-acks", !bus ? "–" : bus.acks === "signed" ? t("Signed") : t("Unsigned: {note}", { note: bus.acks_note }));
    const box = $("outbox-held");
    const list = $("outbox-held-list");
    list.replaceChildren();
    const held = (bus && bus.held) || [];
    box.hidden = held.length === 0;
    text("outbox-held-title", t("Held by the bookkeeping: {count}", { count: bus ? bus.held_count : 0 }));
    for (const h of held) {
      const li = document.createElement("li");
      li.textContent = `${h.kind} ${h.sequence} (${h.msg_id}): ${h.reason}`;
      list.append(li);
    }
  }

  function showSync(sync) {
    const box = $("sync");
    const list = $("sync-errors");
    list.replaceChildren();
    if (!sync) {
      box.dataset.state = "none";
      text("sync-state", t("No status yet"));
      text("sync-at", "–");
      text("sync-summary", "–");
      list.hidden = true;
      return;
    }
    box.dataset.state = sync.state;
    text("sync-state", sync.state === "ok" ? t("OK") : t("Fault ({count})", { count: sync.errors.length }));
    text("sync-at", `${time(sync.at)} (${sync.worker})`);
    text("sync-summary", sync.summary);
    for (const line of sync.errors) {
      const li = document.createElement("li");
      li.textContent = line;
      list.append(li);
    }
    for (const h of sync.held || []) {
      const li = document.createElement("li");
      li.textContent = t("held: {msg_id} ({kind}): {reason}", { msg_id: h.msg_id, kind: h.kind || "?", reason: h.reason });
      list.append(li);
    }
    list.hidden = sync.errors.length === 0 && !(sync.held || []).length;
  }

  function showReceipts(receipts) {
    const body = $("receipts").tBodies[0];
    const rows = receipts.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.receipt = String(r.receipt_no);
      const no = document.createElement("td");
      no.className = "no";
      no.textContent = String(r.receipt_no);
      if (KIND_TAGS[r.kind]) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = KIND_TAGS[r.kind];
        no.append(tag);
      }
      if (!r.printed) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = t("not printed");
        no.append(tag);
      }
      const at = document.createElement("td");
      at.textContent = time(r.at);
      const total = document.createElement("td");
      total.className = "total";
      total.textContent = money(r.total);
      const code = document.createElement("td");
      code.className = "code";
      code.textContent = r.control_code;
      tr.append(no, at, total, code);
      return tr;
    });
    body.replaceChildren(...rows);
    $("no-receipts").hidden = rows.length > 0;
  }

  function showZ(reports) {
    const z = reports[0];
    text("z-no", z ? String(z.z_no) : t("None yet"));
    text("z-at", z ? time(z.at) : "–");
    text("z-net", z ? money(z.net_sales) : "–");
  }

  // -- reading -----------------------------------------------------------------------------

  async function get(path) {
    const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      window.location.reload(); // the session ended: the server shows the login form
      throw new Error("logged out");
    }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  let reading = null;
  let again = false;

  async function refresh() {
    if (reading) { again = true; return reading; } // one read at a time; one more after it
    reading = (async () => {
      try {
        const [status, receipts, reports] = await Promise.all([
          get("/v1/status"), get("/v1/receipts?last=10"), get("/v1/reports/z?last=1"),
        ]);
        showStatus(status);
        showReceipts(receipts.receipts);
        showZ(reports.reports);
      } catch (error) {
        setLive(false, t("Cannot read the till's status"));
      } finally {
        reading = null;
        if (again) { again = false; refresh(); }
      }
    })();
    return reading;
  }

  // -- the event stream ----------------------------------------------------------------------

  function setLive(live, words) {
    const el = $("live");
    el.dataset.live = live ? "yes" : "no";
    el.textContent = words;
  }

  let backoff = 1000;

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}/v1/events`); // the cookie goes along
    ws.onopen = () => { backoff = 1000; setLive(true, t("Live")); };
    ws.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      if (event.type === "hello") showStatus(event.data);
      if (event.type === "device") showDevice(event.data.device, event.data.state, event.data.reason);
      refresh();
    };
    ws.onclose = () => {
      setLive(false, t("Reconnecting …"));
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  refresh();
  connect();
  setInterval(refresh, REFRESH_MS);
})();

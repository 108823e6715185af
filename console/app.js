/*
 * greentrail console: a small single-page app, no framework, no build step.
 *
 * Every action is a real API call made through POST /console/api/call
 * (service, operation, input): the server runs it through the normal
 * pipeline and records it as a console session's call. The session is an
 * HttpOnly cookie; the CSRF token lives only in this page's memory and is
 * sent as X-CSRF-Token on every POST. Untrusted text is only ever put into
 * the page with textContent (never innerHTML).
 */
"use strict";

/* ------------------------------------------------------------ state */
const S = {
  session: null,          // {user, csrfToken, expiresAtMs, region, homeRegion}
  expiryTimer: null,
  tz: localStorage.getItem("gt.tz") === "local" ? "local" : "utc",
  hideOwnReads: localStorage.getItem("gt.hideOwnReads") !== "false",
  liveTimer: null,
  region: null,           // the region calls go to (top bar); starts as the session's
};

const ATTRS = [
  ["", "No filter"],
  ["EventName", "Event name"],
  ["Username", "User name"],
  ["EventSource", "Event source"],
  ["ResourceType", "Resource type"],
  ["ResourceName", "Resource name"],
  ["EventId", "Event ID"],
  ["AccessKeyId", "AWS access key"],
  ["ReadOnly", "Read-only"],
];
const PRESETS = [["30m", 30], ["1h", 60], ["3h", 180], ["12h", 720], ["All", 0]];
const REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
  "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
  "sa-east-1"];
const DEF_KINDS = ["Core", "Device", "Function", "Subscription", "Logger", "Resource", "Connector"];

/* ------------------------------------------------------------ DOM helpers */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const $ = (sel, root) => (root || document).querySelector(sel);
const app = () => $("#app");
/* Text with line-break opportunities after '/' and ':' (long ARNs), or
 * before capitals when camel (long error codes). */
function breakable(text, camel) {
  const frag = document.createDocumentFragment();
  for (const part of String(text).split(camel ? /(?=[A-Z][a-z])/ : /(?<=[/:])/)) frag.append(h("wbr"), part);
  return frag;
}
function mount(...kids) { const a = app(); a.replaceChildren(...kids); return a; }

/* ------------------------------------------------------------ API */
class ApiError extends Error {
  constructor(code, message, status, requestId) {
    super(message || code);
    this.code = code; this.status = status; this.requestId = requestId;
  }
}

async function parseError(r) {
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  const hdr = (r.headers.get("x-amzn-ErrorType") || "").split(":")[0];
  const typ = body && body.__type ? String(body.__type).split("#").pop() : "";
  const code = hdr || typ || `HTTP ${r.status}`;
  const msg = body ? (body.message || body.Message || "") : "";
  return new ApiError(code, msg, r.status, r.headers.get("x-amzn-RequestId"));
}

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (S.session) headers["X-CSRF-Token"] = S.session.csrfToken;
  return fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin" });
}

/* One recorded API call. Session loss sends the user back to sign-in. */
async function call(service, operation, input) {
  const r = await post("api/call", { service, operation, input: input || {}, region: S.region });
  if (r.ok) {
    const t = await r.text();
    return t ? JSON.parse(t) : {};
  }
  const err = await parseError(r);
  if (err.code === "ConsoleSessionRequired" || err.code === "ConsoleSessionExpired") {
    signedOut(err.message);
  }
  throw err;
}

/* Every page of a paginated call (capped). */
async function callAll(service, operation, input, key, cap) {
  let out = [], token;
  for (let i = 0; i < (cap || 20); i++) {
    const r = await call(service, operation, Object.assign({}, input, token ? { NextToken: token } : {}));
    out = out.concat(r[key] || []);
    token = r.NextToken;
    if (!token) break;
  }
  return out;
}

function errorBox(err, what) {
  const box = h("div", { class: "alert", role: "alert" },
    h("div", {}, what ? `${what}: ` : "", h("span", { class: "code" }, err.code || "Error"),
      err.message && err.message !== err.code ? ` — ${err.message}` : ""));
  if (err.status || err.requestId)
    box.append(h("div", { class: "meta" }, [err.status ? `HTTP ${err.status}` : "", err.requestId ? `request ID ${err.requestId}` : ""].filter(Boolean).join(" · ")));
  return box;
}
function emptyState(title, text) { return h("div", { class: "empty" }, h("strong", {}, title), text || ""); }

/* ------------------------------------------------------------ time */
function pad(n, w) { return String(n).padStart(w || 2, "0"); }
function fmtTime(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return "";
  const d = new Date(ms);
  if (S.tz === "utc")
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const tzs = `UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tzs}`;
}
function isoTime(v) {   /* API timestamps are ISO strings or epoch seconds */
  if (v === undefined || v === null || v === "") return "";
  const ms = typeof v === "number" ? v * 1000 : Date.parse(v);
  return isNaN(ms) ? String(v) : fmtTime(ms);
}
/* <input type=datetime-local> value <-> epoch ms, in the chosen zone */
function parseLocalInput(v) {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v);
  if (!m) return null;
  const p = m.slice(1).map((x) => Number(x || 0));
  return S.tz === "utc" ? Date.UTC(p[0], p[1] - 1, p[2], p[3], p[4], p[5]) : new Date(p[0], p[1] - 1, p[2], p[3], p[4], p[5]).getTime();
}
function toLocalInput(ms) {
  const d = new Date(ms);
  return S.tz === "utc"
    ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/* ------------------------------------------------------------ session */
async function loadSession() {
  const r = await fetch("api/session", { credentials: "same-origin" });
  if (!r.ok) return null;
  return r.json();
}

function signedIn(sess) {
  S.session = sess;
  $("#topbar").hidden = false;
  $("#who-name").textContent = sess.user.userName;
  $("#who-detail").textContent = sess.user.accountId;
  S.region = S.region || sess.region;
  const regions = [...new Set([S.region, sess.homeRegion, ...REGIONS])];
  $("#region").replaceChildren(...regions.map((r) => h("option", { value: r, selected: r === S.region }, r)));
  $("#who-detail").title = `${sess.user.arn}\nsession key ${sess.user.sessionKeyId}\nexpires ${sess.expiresAt}`;
  clearTimeout(S.expiryTimer);
  const left = sess.expiresAtMs - Date.now();
  S.expiryTimer = setTimeout(() => signedOut("Your console session has expired. Sign in again."), Math.max(0, Math.min(left, 2 ** 31 - 1)));
}

function signedOut(message) {
  stopLive();
  S.session = null;
  S.region = null;
  clearTimeout(S.expiryTimer);
  $("#topbar").hidden = true;
  renderSignIn(message);
}

function renderSignIn(message, isError) {
  const err = h("div", { class: isError ? "alert" : "notice", role: "alert", id: "signin-message", hidden: !message }, message || "");
  // Two methods: an IAM user's console password (account + user name +
  // password, as AWS's IAM sign-in page) or an access key pair.
  let method = localStorage.getItem("gt.signinMethod") === "password" ? "password" : "accessKey";
  const acct = h("input", { id: "account", name: "account", autocomplete: "organization", required: true, spellcheck: "false", placeholder: "123456789012 or my-alias", value: localStorage.getItem("gt.account") || "" });
  const user = h("input", { id: "username", name: "userName", autocomplete: "username", required: true, spellcheck: "false" });
  const pw = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const akid = h("input", { id: "akid", name: "accessKeyId", autocomplete: "username", required: true, spellcheck: "false", placeholder: "AKIA…" });
  const secret = h("input", { id: "secret", name: "secretAccessKey", type: "password", autocomplete: "current-password", required: true });
  const pwFields = h("div", { class: "signin-fields", id: "signin-password" },
    h("label", { class: "field" }, "Account ID or alias", acct),
    h("label", { class: "field" }, "IAM user name", user),
    h("label", { class: "field" }, "Password", pw));
  const keyFields = h("div", { class: "signin-fields", id: "signin-accesskey" },
    h("label", { class: "field" }, "Access key ID", akid),
    h("label", { class: "field" }, "Secret access key", secret));
  const intro = h("p", { class: "muted tight" });
  const toggle = h("button", { class: "btn btn-link", type: "button", id: "signin-toggle" });
  const show = () => {
    const isPw = method === "password";
    pwFields.hidden = !isPw; keyFields.hidden = isPw;
    for (const i of [acct, user, pw]) i.disabled = !isPw;
    for (const i of [akid, secret]) i.disabled = isPw;
    intro.textContent = isPw ? "Sign in as an IAM user with the console password an administrator set for you (its login profile)."
      : "Use an access key pair of an IAM user or of the account root.";
    toggle.textContent = isPw ? "Sign in with an access key instead" : "Sign in with an IAM user name and password instead";
  };
  toggle.addEventListener("click", () => {
    method = method === "password" ? "accessKey" : "password";
    localStorage.setItem("gt.signinMethod", method);
    show();
    (method === "password" ? (acct.value ? user : acct) : akid).focus();
  });
  const btn = h("button", { class: "btn btn-primary", type: "submit", id: "signin-btn" }, "Sign in");
  const form = h("form", { class: "panel-body", novalidate: true },
    h("h1", {}, "Sign in"),
    intro,
    err,
    pwFields,
    keyFields,
    btn,
    toggle,
    h("p", { class: "hint" }, "Credentials are checked once and never stored in the browser. Sessions end after the server's configured lifetime or when you sign out."));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      const body = method === "password"
        ? { method: "password", account: acct.value.trim(), userName: user.value.trim(), password: pw.value }
        : { method: "accessKey", accessKeyId: akid.value.trim(), secretAccessKey: secret.value };
      const r = await post("api/signin", body);
      secret.value = ""; pw.value = "";
      if (!r.ok) {
        const e = await parseError(r);
        err.className = "alert"; err.hidden = false;
        err.textContent = e.status === 429 ? `${e.message} (retry in ${r.headers.get("Retry-After") || "a few"} s)` : e.message || e.code;
        return;
      }
      if (method === "password") localStorage.setItem("gt.account", acct.value.trim());
      signedIn(await r.json());
      if (!location.hash || location.hash === "#/") location.hash = "#/events";
      route();
    } catch (e) {
      err.className = "alert"; err.hidden = false; err.textContent = `Cannot reach the server: ${e.message}`;
    } finally { btn.disabled = false; }
  });
  show();
  mount(h("div", { class: "signin" }, h("div", { class: "signin-brand" }, "greentrail"), h("div", { class: "panel" }, form)));
  (method === "password" ? (acct.value ? user : acct) : akid).focus();
}

async function signOut() {
  try { await post("api/signout", {}); } catch (_) { /* signing out anyway */ }
  signedOut("You have signed out.");
}

/* ------------------------------------------------------------ routing */
function route() {
  stopLive();
  if (!S.session) return;
  const parts = (location.hash || "#/events").slice(2).split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === parts[0]);
  if (parts[0] === "greengrass" && parts[1] === "groups" && parts[2]) return renderGroup(parts[2]);
  if (parts[0] === "greengrass") return renderGreengrass();
  if (parts[0] === "trails") return renderTrails();
  return renderEvents();
}

/* ------------------------------------------------------------ Event history */
const EV = {
  attr: "", value: "", preset: "1h", start: null, end: null,
  pages: [undefined], page: 0, events: [], live: false, lastPoll: null, range: null,
};

function evTimeRange() {
  const now = Date.now();
  if (EV.preset === "custom") return { start: EV.start, end: EV.end };
  const p = PRESETS.find((x) => x[0] === EV.preset);
  return { start: p && p[1] ? now - p[1] * 60000 : null, end: null };
}

/* A relative range is fixed when the query is applied: LookupEvents binds
 * its NextToken to the exact StartTime/EndTime, so page 2 must ask with
 * page 1's times. */
function freezeRange() { EV.range = evTimeRange(); }

function lookupInput(extra) {
  const input = {};
  if (EV.attr && EV.value) input.LookupAttributes = [{ AttributeKey: EV.attr, AttributeValue: EV.value }];
  const r = EV.range || evTimeRange();
  if (r.start) input.StartTime = Math.floor(r.start / 1000);
  if (r.end) input.EndTime = Math.floor(r.end / 1000);
  return Object.assign(input, extra || {});
}

function isOwnRead(e) {
  if (EV.attr === "EventName" || EV.attr === "AccessKeyId") return false;   /* asked for explicitly */
  return S.hideOwnReads && e.EventName === "LookupEvents" && S.session && e.AccessKeyId === S.session.user.sessionKeyId;
}

function recordOf(e) {
  if (!e._rec) { try { e._rec = JSON.parse(e.CloudTrailEvent); } catch (_) { e._rec = {}; } }
  return e._rec;
}

function evRow(e, fresh) {
  const rec = recordOf(e);
  const res = e.Resources || [];
  const tr = h("tr", { class: "clickable" + (fresh ? " fresh" : ""), dataset: { eventId: e.EventId }, onclick: () => openRecord(e) },
    h("td", { class: "time" }, fmtTime(e.EventTime * 1000)),
    h("td", {}, h("button", { class: "linkish", type: "button" }, e.EventName)),
    h("td", {}, e.Username || ""),
    h("td", {}, e.EventSource || ""),
    h("td", { class: "nowrap" }, res.map((r) => r.ResourceType).filter(Boolean).join(", ")),
    h("td", { class: "wrap" }, breakable(res.map((r) => r.ResourceName).filter(Boolean).join(", "))),
    h("td", { class: rec.errorCode ? "err" : "", title: rec.errorMessage || null }, breakable(rec.errorCode || "", true)));
  return tr;
}

function renderEvents() {
  const attrSel = h("select", { id: "attr", "aria-label": "Lookup attribute" }, ATTRS.map(([k, label]) => h("option", { value: k, selected: k === EV.attr }, label)));
  const valueIn = h("input", { id: "attr-value", placeholder: "Enter a value", value: EV.value, "aria-label": "Attribute value", size: 28 });
  const HINTS = { EventName: "e.g. CreateGroup", Username: "e.g. admin", EventSource: "e.g. greengrass.amazonaws.com",
    ResourceType: "e.g. AWS::Greengrass::Group", ResourceName: "e.g. a resource ARN", EventId: "an event ID",
    AccessKeyId: "e.g. AKIA… or ASIA…", ReadOnly: "true or false" };
  const sync = () => {
    valueIn.disabled = !attrSel.value;
    if (!attrSel.value) valueIn.value = "";
    valueIn.placeholder = HINTS[attrSel.value] || "Choose an attribute first";
  };
  attrSel.addEventListener("change", sync); sync();

  const startIn = h("input", { type: "datetime-local", id: "start", "aria-label": "Start time" });
  const endIn = h("input", { type: "datetime-local", id: "end", "aria-label": "End time" });
  if (EV.start) startIn.value = toLocalInput(EV.start);
  if (EV.end) endIn.value = toLocalInput(EV.end);
  const custom = h("div", { class: "row", id: "custom-range", hidden: EV.preset !== "custom" }, startIn, h("span", { class: "muted" }, "to"), endIn);
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Time range" },
    [...PRESETS.map((p) => p[0]), "Custom"].map((name) => {
      const key = name === "Custom" ? "custom" : name;
      return h("button", { type: "button", class: EV.preset === key ? "on" : "", dataset: { preset: key }, onclick: (ev) => {
        EV.preset = key;
        for (const b of seg.querySelectorAll("button")) b.classList.toggle("on", b === ev.currentTarget);
        custom.hidden = key !== "custom";
        if (key !== "custom") apply();
      } }, name === "All" ? "All (retention)" : name);
    }));

  const tzSeg = h("div", { class: "seg", role: "group", "aria-label": "Time zone" },
    [["utc", "UTC"], ["local", "Local"]].map(([k, label]) => h("button", { type: "button", id: `tz-${k}`, class: S.tz === k ? "on" : "", onclick: () => {
      S.tz = k; localStorage.setItem("gt.tz", k); renderEvents();
    } }, label)));

  const liveBox = h("input", { type: "checkbox", id: "live", checked: EV.live });
  liveBox.addEventListener("change", () => {
    EV.live = liveBox.checked;
    if (EV.live) { EV.page = 0; EV.pages = [undefined]; freezeRange(); load(); } else stopLive();
    liveStatus();
  });
  const hideBox = h("input", { type: "checkbox", id: "hide-own", checked: S.hideOwnReads });
  hideBox.addEventListener("change", () => { S.hideOwnReads = hideBox.checked; localStorage.setItem("gt.hideOwnReads", String(hideBox.checked)); drawRows(); });

  const applyBtn = h("button", { class: "btn btn-primary", type: "button", id: "apply" }, "Apply");
  const form = h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    h("div", { class: "group" }, h("span", { class: "label" }, "Lookup attribute"), h("div", { class: "row" }, attrSel, valueIn)),
    h("div", { class: "group" }, h("span", { class: "label" }, "Time range"), h("div", { class: "row" }, seg, custom)),
    applyBtn,
    h("div", { class: "spacer" }),
    h("div", { class: "group" }, h("span", { class: "label" }, "Time zone"), tzSeg));
  applyBtn.addEventListener("click", apply);

  function apply() {
    EV.attr = attrSel.value; EV.value = valueIn.value.trim();
    if (EV.preset === "custom") { EV.start = parseLocalInput(startIn.value); EV.end = parseLocalInput(endIn.value); }
    EV.page = 0; EV.pages = [undefined];
    freezeRange();
    load();
  }

  const status = h("span", { id: "live-status", class: "muted" });
  const count = h("span", { class: "count", id: "ev-count" });
  const head = h("div", { class: "panel-head" }, h("h2", {}, "Events ", count), h("div", { class: "spacer" }),
    h("label", { class: "check" }, hideBox, "Hide my own Event history reads"),
    h("label", { class: "check" }, liveBox, "Live"), status,
    h("button", { class: "btn btn-small", type: "button", id: "dl-csv", onclick: () => download("csv") }, "Download CSV"),
    h("button", { class: "btn btn-small", type: "button", id: "dl-json", onclick: () => download("json") }, "Download JSON"));
  const msg = h("div", { id: "ev-msg" });
  const tbody = h("tbody", { id: "ev-rows" });
  const table = h("table", { class: "grid", id: "events" },
    h("thead", {}, h("tr", {}, ["Event time", "Event name", "User name", "Event source", "Resource type", "Resource name", "Error code"].map((c) => h("th", { scope: "col" }, c)))),
    tbody);
  const prev = h("button", { class: "btn btn-small", type: "button", id: "prev", onclick: () => { EV.page--; load(); } }, "‹ Previous");
  const next = h("button", { class: "btn btn-small", type: "button", id: "next", onclick: () => { EV.page++; load(); } }, "Next ›");
  const pageNo = h("span", { class: "muted", id: "page-no" });
  const pager = h("div", { class: "pager" }, prev, pageNo, next);

  mount(h("h1", {}, "Event history"),
    h("p", { class: "sub" }, "Management events of this account and region, newest first. Each page you load here is itself a recorded LookupEvents call."),
    h("div", { class: "panel" }, form, head, msg, h("div", { class: "scroll" }, table), pager));

  function liveStatus() {
    status.replaceChildren(EV.live ? h("span", {}, h("span", { class: "live-dot" }), EV.lastPoll ? `updated ${fmtTime(EV.lastPoll)}` : "waiting…") : "");
  }

  function drawRows(freshIds) {
    const shown = EV.events.filter((e) => !isOwnRead(e));
    tbody.replaceChildren(...shown.map((e) => evRow(e, freshIds && freshIds.has(e.EventId))));
    count.textContent = `(${shown.length}${EV.pages[EV.page + 1] ? "+" : ""})`;
    if (!msg.querySelector(".alert")) msg.replaceChildren(shown.length ? "" : emptyState("No events", "No events match this filter in the selected time range."));
    prev.disabled = EV.page === 0 || EV.live;
    next.disabled = !EV.pages[EV.page + 1] || EV.live;
    pageNo.textContent = EV.live ? "live: newest events" : `Page ${EV.page + 1}`;
  }
  EV.drawRows = drawRows;
  if (EV.page === 0) freezeRange();

  async function load() {
    stopLive();
    msg.replaceChildren();
    tbody.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "Loading…")));
    try {
      const r = await call("cloudtrail", "LookupEvents", lookupInput(Object.assign({ MaxResults: 50 }, EV.pages[EV.page] ? { NextToken: EV.pages[EV.page] } : {})));
      EV.events = r.Events || [];
      EV.pages[EV.page + 1] = r.NextToken;
      EV.pages.length = EV.page + 2;
      drawRows();
      if (EV.live) startLive(liveStatus);
    } catch (e) {
      EV.events = [];
      tbody.replaceChildren();
      msg.replaceChildren(errorBox(e, "LookupEvents failed"));
      count.textContent = "";
    }
  }
  load();
}

/* Live mode: poll LookupEvents for events newer than the newest shown. */
function startLive(onTick) {
  stopLive();
  const tick = async () => {
    const newest = EV.events.reduce((m, e) => Math.max(m, e.EventTime), 0);
    const r0 = EV.range || evTimeRange();
    const since = Math.max(newest, r0.start ? Math.floor(r0.start / 1000) : 0);
    try {
      const input = lookupInput({ MaxResults: 50 });
      if (since) input.StartTime = since;
      delete input.EndTime;
      const got = await callAll("cloudtrail", "LookupEvents", input, "Events", 4);
      const known = new Set(EV.events.map((e) => e.EventId));
      const fresh = got.filter((e) => !known.has(e.EventId));
      if (fresh.length) {
        EV.events = fresh.concat(EV.events).slice(0, 500);
        EV.drawRows(new Set(fresh.map((e) => e.EventId)));
      }
      EV.lastPoll = Date.now();
      onTick();
    } catch (e) {
      if (S.session) $("#ev-msg").replaceChildren(errorBox(e, "Live update failed"));
    }
    if (EV.live && S.session) S.liveTimer = setTimeout(tick, 3000);
  };
  S.liveTimer = setTimeout(tick, 3000);
}
function stopLive() { clearTimeout(S.liveTimer); S.liveTimer = null; }

/* CSV cells: a leading = + - @ (or tab/CR) would be run as a formula by
 * spreadsheets, so such cells get a leading quote (CSV injection). */
function csvCell(v) {
  let s = v === undefined || v === null ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function download(kind) {
  const msg = $("#ev-msg");
  try {
    const events = await callAll("cloudtrail", "LookupEvents", lookupInput({ MaxResults: 50 }), "Events", 40);
    let blob, name;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    if (kind === "csv") {
      const cols = ["Event time", "Event name", "User name", "Event source", "Resource type", "Resource name", "Error code", "AWS access key", "AWS region", "Source IP address", "Read-only", "Event ID"];
      const lines = [cols.map(csvCell).join(",")];
      for (const e of events) {
        const rec = recordOf(e), res = e.Resources || [];
        lines.push([new Date(e.EventTime * 1000).toISOString(), e.EventName, e.Username, e.EventSource,
          res.map((x) => x.ResourceType).join("; "), res.map((x) => x.ResourceName).join("; "), rec.errorCode,
          e.AccessKeyId, rec.awsRegion, rec.sourceIPAddress, e.ReadOnly, e.EventId].map(csvCell).join(","));
      }
      blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
      name = `event-history-${stamp}.csv`;
    } else {
      blob = new Blob([JSON.stringify({ Records: events.map(recordOf) }, null, 2)], { type: "application/json" });
      name = `event-history-${stamp}.json`;
    }
    const a = h("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    msg.replaceChildren(errorBox(e, "Download failed"));
  }
}

function openRecord(e) {
  const rec = recordOf(e);
  const close = () => back.remove();
  const kv = (k, v) => (v === undefined || v === null || v === "" ? [] : [h("dt", {}, k), h("dd", {}, String(v))]);
  const res = e.Resources || [];
  const drawer = h("div", { class: "drawer", role: "dialog", "aria-modal": "true", "aria-label": "Event record", id: "record" },
    h("div", { class: "panel-head" }, h("h2", {}, e.EventName), h("span", { class: "muted" }, fmtTime(e.EventTime * 1000)), h("div", { class: "spacer" }),
      h("button", { class: "btn btn-small", type: "button", id: "record-close", onclick: close }, "Close")),
    h("div", { class: "panel-body" },
      h("dl", { class: "kv" },
        kv("User name", e.Username), kv("AWS access key", e.AccessKeyId), kv("Event source", e.EventSource),
        kv("AWS region", rec.awsRegion), kv("Source IP address", rec.sourceIPAddress), kv("User agent", rec.userAgent),
        kv("Error code", rec.errorCode), kv("Error message", rec.errorMessage), kv("Read-only", e.ReadOnly),
        kv("Request ID", rec.requestID), kv("Event ID", e.EventId)),
      h("div", { class: "section-title" }, `Resources referenced (${res.length})`),
      res.length ? h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Resource type"), h("th", {}, "Resource name"))),
        h("tbody", {}, res.map((r) => h("tr", {}, h("td", {}, r.ResourceType || ""), h("td", { class: "wrap" }, r.ResourceName || "")))))
        : h("p", { class: "muted" }, "None."),
      h("div", { class: "section-title" }, "Event record"),
      h("pre", { class: "json", id: "record-json" }, JSON.stringify(rec, null, 2))));
  const back = h("div", { class: "drawer-back", onclick: (ev) => { if (ev.target === back) close(); } }, drawer);
  back.addEventListener("keydown", (ev) => { if (ev.key === "Escape") close(); });
  document.body.append(back);
  $("#record-close").focus();
}

/* ------------------------------------------------------------ Greengrass */
function groupTable(groups) {
  if (!groups.length) return emptyState("No groups", "Create a group above to get started.");
  return h("table", { class: "grid", id: "groups" },
    h("thead", {}, h("tr", {}, ["Name", "Group ID", "Latest version", "Created", "Last updated"].map((c) => h("th", {}, c)))),
    h("tbody", {}, groups.map((g) => h("tr", { class: "clickable", onclick: () => { location.hash = `#/greengrass/groups/${encodeURIComponent(g.Id)}`; } },
      h("td", {}, h("a", { href: `#/greengrass/groups/${encodeURIComponent(g.Id)}` }, g.Name || "(no name)")),
      h("td", { class: "mono" }, g.Id), h("td", { class: "mono" }, g.LatestVersion || "—"),
      h("td", { class: "time" }, isoTime(g.CreationTimestamp)), h("td", { class: "time" }, isoTime(g.LastUpdatedTimestamp))))));
}

async function renderGreengrass() {
  const nameIn = h("input", { id: "group-name", placeholder: "my-group", "aria-label": "Group name", size: 30, maxlength: 128 });
  const createMsg = h("div", { id: "create-msg" });
  const groupsBox = h("div", { id: "groups-box" }, h("p", { class: "muted panel-body" }, "Loading…"));
  const defsBox = h("div", { id: "defs-box" }, h("p", { class: "muted panel-body" }, "Loading…"));
  const createForm = h("form", { class: "toolbar", id: "create-group", onsubmit: async (ev) => {
    ev.preventDefault();
    const name = nameIn.value.trim();
    if (!name) { createMsg.replaceChildren(h("div", { class: "alert" }, "Enter a group name.")); return; }
    try {
      const g = await call("greengrass", "CreateGroup", { Name: name });
      createMsg.replaceChildren(h("div", { class: "notice", id: "created" }, "Created group ", h("strong", {}, g.Name), ` (${g.Id}).`));
      nameIn.value = "";
      loadGroups();
    } catch (e) { createMsg.replaceChildren(errorBox(e, "CreateGroup failed")); }
  } },
  h("label", { class: "field" }, "New group name", nameIn), h("button", { class: "btn btn-primary", type: "submit", id: "create-btn" }, "Create group"));

  mount(h("h1", {}, "Greengrass"), h("p", { class: "sub" }, "AWS IoT Greengrass V1 groups and definitions in this region."),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Groups")), createForm, createMsg, groupsBox),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Definitions")), defsBox));

  async function loadGroups() {
    try { groupsBox.replaceChildren(groupTable(await callAll("greengrass", "ListGroups", {}, "Groups"))); }
    catch (e) { groupsBox.replaceChildren(errorBox(e, "ListGroups failed")); }
  }
  loadGroups();
  const rows = [], errs = [];
  await Promise.all(DEF_KINDS.map(async (k) => {
    try {
      for (const d of await callAll("greengrass", `List${k}Definitions`, {}, "Definitions")) rows.push([k, d]);
    } catch (e) { errs.push(errorBox(e, `List${k}Definitions failed`)); }
  }));
  rows.sort((a, b) => String(b[1].CreationTimestamp).localeCompare(String(a[1].CreationTimestamp)));
  defsBox.replaceChildren(...errs, rows.length
    ? h("table", { class: "grid", id: "definitions" },
      h("thead", {}, h("tr", {}, ["Kind", "Name", "Definition ID", "Latest version", "Created"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map(([k, d]) => h("tr", {}, h("td", {}, k), h("td", {}, d.Name || "(no name)"), h("td", { class: "mono" }, d.Id),
        h("td", { class: "mono" }, d.LatestVersion || "—"), h("td", { class: "time" }, isoTime(d.CreationTimestamp))))))
    : emptyState("No definitions", "Core, device, function, subscription, logger, resource and connector definitions appear here."));
}

async function renderGroup(id) {
  const info = h("div", { class: "panel-body", id: "group-info" }, h("span", { class: "muted" }, "Loading…"));
  const actionMsg = h("div", { id: "action-msg" });
  const versions = h("div", { id: "versions-box" }, h("p", { class: "muted panel-body" }, "Loading…"));
  const deployments = h("div", { id: "deployments-box" }, h("p", { class: "muted panel-body" }, "Loading…"));
  const verBtn = h("button", { class: "btn", type: "button", id: "new-version" }, "Create empty version");
  const deployBtn = h("button", { class: "btn btn-primary", type: "button", id: "deploy", disabled: true }, "Deploy latest version");
  const title = h("h1", {}, "Group");
  mount(h("div", { class: "breadcrumb" }, h("a", { href: "#/greengrass" }, "Greengrass"), " › group"), title,
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Details"), h("div", { class: "spacer" }), verBtn, deployBtn), actionMsg, info),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Versions")), versions),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Deployments")), deployments));
  let group = null;

  async function load() {
    try {
      group = await call("greengrass", "GetGroup", { GroupId: id });
      title.textContent = group.Name || "(no name)";
      info.replaceChildren(h("dl", { class: "kv" },
        h("dt", {}, "Group ID"), h("dd", { class: "mono" }, group.Id), h("dt", {}, "ARN"), h("dd", { class: "mono" }, group.Arn),
        h("dt", {}, "Latest version"), h("dd", { class: "mono" }, group.LatestVersion || "none yet"),
        h("dt", {}, "Created"), h("dd", {}, isoTime(group.CreationTimestamp)), h("dt", {}, "Last updated"), h("dd", {}, isoTime(group.LastUpdatedTimestamp))));
      deployBtn.disabled = !group.LatestVersion;
      deployBtn.title = group.LatestVersion ? "" : "Create a version first";
    } catch (e) { info.replaceChildren(errorBox(e, "GetGroup failed")); }
    try {
      const vs = await callAll("greengrass", "ListGroupVersions", { GroupId: id }, "Versions");
      versions.replaceChildren(vs.length ? h("table", { class: "grid", id: "versions" },
        h("thead", {}, h("tr", {}, ["Version", "Created"].map((c) => h("th", {}, c)))),
        h("tbody", {}, vs.map((v) => h("tr", {}, h("td", { class: "mono" }, v.Version), h("td", { class: "time" }, isoTime(v.CreationTimestamp))))))
        : emptyState("No versions", "A group needs a version before it can be deployed."));
    } catch (e) { versions.replaceChildren(errorBox(e, "ListGroupVersions failed")); }
    try {
      const ds = await callAll("greengrass", "ListDeployments", { GroupId: id }, "Deployments");
      deployments.replaceChildren(ds.length ? h("table", { class: "grid", id: "deployments" },
        h("thead", {}, h("tr", {}, ["Deployment ID", "Type", "Group version", "Created"].map((c) => h("th", {}, c)))),
        h("tbody", {}, ds.map((d) => h("tr", {}, h("td", { class: "mono" }, d.DeploymentId), h("td", {}, d.DeploymentType || ""),
          h("td", { class: "mono wrap" }, d.GroupArn || ""), h("td", { class: "time" }, isoTime(d.CreatedAt))))))
        : emptyState("No deployments", "Deploy a version to see it here."));
    } catch (e) { deployments.replaceChildren(errorBox(e, "ListDeployments failed")); }
  }
  verBtn.addEventListener("click", async () => {
    try {
      const v = await call("greengrass", "CreateGroupVersion", { GroupId: id });
      actionMsg.replaceChildren(h("div", { class: "notice" }, `Created version ${v.Version}.`));
      load();
    } catch (e) { actionMsg.replaceChildren(errorBox(e, "CreateGroupVersion failed")); }
  });
  deployBtn.addEventListener("click", async () => {
    if (!group || !group.LatestVersion) return;
    try {
      const d = await call("greengrass", "CreateDeployment", { GroupId: id, GroupVersionId: group.LatestVersion, DeploymentType: "NewDeployment" });
      actionMsg.replaceChildren(h("div", { class: "notice" }, `Deployment ${d.DeploymentId} started.`));
      load();
    } catch (e) { actionMsg.replaceChildren(errorBox(e, "CreateDeployment failed")); }
  });
  load();
}

/* ------------------------------------------------------------ Trails */
/* Trails with their status and last delivery; create a trail; start and
 * stop logging. Every action is a real, recorded CloudTrail API call. */
async function renderTrails() {
  const box = h("div", { id: "trails-box" }, h("p", { class: "muted panel-body" }, "Loading…"));
  const msg = h("div", { id: "trail-msg" });
  const nameIn = h("input", { id: "trail-name", placeholder: "trail name", required: "" });
  const bucketIn = h("input", { id: "trail-bucket", placeholder: "S3 bucket", required: "" });
  const validIn = h("input", { id: "trail-validation", type: "checkbox", checked: "" });
  const createBtn = h("button", { class: "btn btn-primary", type: "submit", id: "trail-create" }, "Create trail");
  const refreshBtn = h("button", { class: "btn", type: "button", id: "trail-refresh" }, "Refresh");
  const form = h("form", { class: "panel-body inline-form", id: "trail-form" }, nameIn, bucketIn,
    h("label", {}, validIn, " log file validation"), createBtn);
  mount(h("h1", {}, "Trails"), h("p", { class: "sub" }, "Trails deliver the event history to S3-compatible storage."),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Create a trail")), form, msg),
    h("div", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, "Trails"), h("div", { class: "spacer" }), refreshBtn), box));
  refreshBtn.addEventListener("click", () => load());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    createBtn.disabled = true;
    try {
      const t = await call("cloudtrail", "CreateTrail", { Name: nameIn.value.trim(), S3BucketName: bucketIn.value.trim(),
        EnableLogFileValidation: validIn.checked });
      msg.replaceChildren(h("div", { class: "notice" }, `Created trail ${t.Name}. Start logging to deliver events.`));
      nameIn.value = "";
      load();
    } catch (e) { msg.replaceChildren(errorBox(e, "CreateTrail failed")); }
    finally { createBtn.disabled = false; }
  });
  async function logging(t, on) {
    try {
      await call("cloudtrail", on ? "StartLogging" : "StopLogging", { Name: t.TrailARN || t.Name });
      msg.replaceChildren(h("div", { class: "notice" }, `${on ? "Started" : "Stopped"} logging for ${t.Name}.`));
      load();
    } catch (e) { msg.replaceChildren(errorBox(e, on ? "StartLogging failed" : "StopLogging failed")); }
  }
  async function load() {
    let trails;
    try { trails = (await call("cloudtrail", "DescribeTrails", {})).trailList || []; }
    catch (e) { box.replaceChildren(errorBox(e, "DescribeTrails failed")); return; }
    if (!trails.length) { box.replaceChildren(emptyState("No trails", "This account has no trails in this region yet.")); return; }
    const status = await Promise.all(trails.map((t) => call("cloudtrail", "GetTrailStatus", { Name: t.TrailARN || t.Name }).catch((e) => ({ _err: e }))));
    const when = (v) => (v ? isoTime(v) : "never");
    box.replaceChildren(h("table", { class: "grid", id: "trails" },
      h("thead", {}, h("tr", {}, ["Name", "Home region", "Multi-region", "S3 bucket", "Log file validation", "Status", "Last delivery", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, trails.map((t, i) => {
        const st = status[i];
        const btn = st._err ? "" : h("button", { class: "btn", type: "button", "data-trail": t.Name, "data-action": st.IsLogging ? "stop" : "start" },
          st.IsLogging ? "Stop logging" : "Start logging");
        if (btn) btn.addEventListener("click", () => logging(t, !st.IsLogging));
        return h("tr", { "data-trail": t.Name }, h("td", {}, t.Name), h("td", {}, t.HomeRegion || ""), h("td", {}, t.IsMultiRegionTrail ? "Yes" : "No"),
          h("td", {}, t.S3BucketName || ""), h("td", {}, t.LogFileValidationEnabled ? "Enabled" : "Disabled"),
          h("td", {}, st._err ? h("span", { class: "err", title: st._err.message }, st._err.code)
            : h("span", { class: "pill " + (st.IsLogging ? "on" : "off") }, st.IsLogging ? "Logging" : "Not logging")),
          h("td", { class: "time last-delivery", title: st.LatestDeliveryError || "" },
            st._err ? "" : (st.LatestDeliveryError ? `error: ${st.LatestDeliveryError}` : when(st.LatestDeliveryTime))),
          h("td", {}, btn));
      }))));
  }
  load();
}

/* ------------------------------------------------------------ start */
async function start() {
  $("#signout").addEventListener("click", signOut);
  $("#region").addEventListener("change", (ev) => {   /* resources and events are per region, as on AWS */
    S.region = ev.target.value;
    EV.page = 0; EV.pages = [undefined];
    route();
  });
  window.addEventListener("hashchange", route);
  let sess = null;
  try { sess = await loadSession(); } catch (_) { /* treated as signed out */ }
  if (sess) { signedIn(sess); route(); } else renderSignIn();
}
start();

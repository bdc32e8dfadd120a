/*
 * The admin page (docs/admin.md): a token pasted once per tab (sessionStorage), then two
 * views chosen by the URL's hash. Approvals (#/approvals[/<id>]): the pending requests this
 * token may decide or see, polled every 2 s, approve/deny with a reason, and the history of
 * decided requests. Sessions (#/sessions, operators): the audit trail's sessions searched by
 * identity, target, time and denials, and one session's replay (#/sessions/<id>), PostgreSQL
 * or MySQL: each statement, its verdict and rule, its results as tables (values as recorded:
 * masked), errors, notices and times, summed up as psql or the mariadb client would. Everything from a request or a session is put in the page
 * with textContent (never innerHTML): statements, values and reasons are clients' text.
 */
"use strict";

const POLL_MS = 2000;
const KEY = "ringgate-admin-token";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(KEY) || "";
let timer = null;
let lastNow = 0;

/* ---- the API ---------------------------------------------------------------------------- */

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  return { status: r.status, doc };
}

/* ---- SQL, highlighted without markup from the text ------------------------------------ */

const KEYWORDS = new Set(("select insert update delete from where and or not in is null " +
  "set values into join left right inner outer full cross on using group by order having " +
  "limit offset returning with as distinct union all except intersect case when then else " +
  "end create alter drop truncate table index view grant revoke begin commit rollback " +
  "savepoint copy do execute call like ilike between exists any some true false cascade " +
  "primary key foreign references default only lateral for share nowait skip locked " +
  "function procedure schema database role user owner to vacuum analyze explain")
  .split(" "));

function tokens(sql) {
  const out = [];
  const re = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\$([A-Za-z_]*)\$[\s\S]*?(?:\$\5\$|$))|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z_0-9$]*)|([\s\S])/g;
  let m;
  while ((m = re.exec(sql)) !== null) {
    if (m[1]) out.push(["com", m[1]]);
    else if (m[2]) out.push(["str", m[2]]);
    else if (m[3]) out.push(["ident", m[3]]);
    else if (m[4]) out.push(["str", m[4]]);
    else if (m[6]) out.push(["num", m[6]]);
    else if (m[7]) out.push([KEYWORDS.has(m[7].toLowerCase()) ? "kw" : "", m[7]]);
    else out.push(["", m[8]]);
  }
  return out;
}

function sqlBlock(sql, short) {
  const pre = document.createElement("pre");
  pre.className = short ? "sql short" : "sql";
  const code = document.createElement("code");
  let plain = "";
  const flush = () => { if (plain) { code.appendChild(document.createTextNode(plain)); plain = ""; } };
  for (const [cls, text] of tokens(sql || "")) {
    if (!cls) { plain += text; continue; }
    flush();
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    code.appendChild(s);
  }
  flush();
  pre.appendChild(code);
  return pre;
}

/* ---- formatting --------------------------------------------------------------------------- */

function dur(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return s + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function metaItem(label, value) {
  const d = el("div");
  d.appendChild(el("b", "", label));
  d.appendChild(document.createTextNode(value === null || value === undefined ? "-" : String(value)));
  return d;
}

function setStatus(msg, isError) {
  const s = $("status");
  s.textContent = msg;
  s.className = isError ? "error" : "muted";
}

/* ---- pending cards: kept by id, so a reason being typed survives the polls ---------------- */

function card(a) {
  const c = el("div", "card");
  c.id = "req-" + a.id;
  c.dataset.id = a.id;
  const meta = el("div", "meta");
  meta.appendChild(metaItem("requester", a.subject));
  meta.appendChild(metaItem("issuer", a.issuer));
  meta.appendChild(metaItem("groups", (a.groups || []).join(", ") || "-"));
  meta.appendChild(metaItem("from", a.peer));
  meta.appendChild(metaItem("target", a.target));
  meta.appendChild(metaItem("rule", a.rule));
  meta.appendChild(metaItem("reviewers", a.reviewers));
  meta.appendChild(metaItem("scope", a.scope === "fingerprint"
    ? "same fingerprint for " + dur(a.grant_ttl_s * 1000) : "this statement"));
  const age = metaItem("age", "");
  age.classList.add("age");
  meta.appendChild(age);
  const exp = metaItem("expires in", "");
  exp.classList.add("expiry");
  meta.appendChild(exp);
  c.appendChild(meta);
  c.appendChild(sqlBlock(a.sql, false));
  const form = el("form", "decide");
  const reason = el("input", "reason");
  reason.type = "text";
  reason.maxLength = 1000;
  reason.placeholder = "reason (required, recorded with the decision)";
  reason.setAttribute("aria-label", "reason");
  const ok = el("button", "approve", "Approve");
  ok.type = "button";
  const no = el("button", "deny", "Deny");
  no.type = "button";
  const err = el("span", "error");
  form.append(reason, ok, no);
  form.addEventListener("submit", (e) => e.preventDefault());
  ok.addEventListener("click", () => decide(a.id, "approve", reason, [ok, no], err));
  no.addEventListener("click", () => decide(a.id, "deny", reason, [ok, no], err));
  c.appendChild(form);
  c.appendChild(err);
  return c;
}

function tick(c, a, now) {
  c.querySelector(".age").lastChild.textContent = dur(now - a.created_ms);
  const e = c.querySelector(".expiry");
  const left = a.expires_ms - now;
  e.lastChild.textContent = left > 0 ? dur(left) : "expired";
  e.classList.toggle("soon", left > 0 && left < 60000);
  e.classList.toggle("gone", left <= 0);
}

async function decide(id, verb, reasonInput, buttons, err) {
  const reason = reasonInput.value.trim();
  err.textContent = "";
  if (!reason) {
    err.textContent = "a reason is required";
    reasonInput.focus();
    return;
  }
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const r = await api("POST", "/api/approvals/" + id + "/" + verb, { reason });
    if (r.status === 200) {
      setStatus((verb === "approve" ? "Approved " : "Denied ") + id, false);
      await refresh();
      return;
    }
    if (r.status === 401) return logout("authentication failed");
    err.textContent = (r.doc && r.doc.error) || ("HTTP " + r.status);
  } catch (e) {
    err.textContent = "the gateway did not answer";
  }
  buttons.forEach((b) => { b.disabled = false; });
}

function renderPending(list, now) {
  const box = $("pending");
  const want = new Map(list.map((a) => [a.id, a]));
  for (const c of Array.from(box.children))
    if (!want.has(c.dataset.id)) c.remove();
  let prev = null;
  for (const a of list) {
    let c = $("req-" + a.id);
    if (!c) {
      c = card(a);
      if (prev) prev.after(c); else box.prepend(c);
    }
    tick(c, a, now);
    prev = c;
  }
  $("pending-count").textContent = list.length ? "(" + list.length + ")" : "";
  $("no-pending").hidden = list.length > 0;
  focusFromHash();
}

function renderHistory(list) {
  const body = $("history").querySelector("tbody");
  const rows = [];
  for (const a of list) {
    const tr = el("tr");
    tr.id = "hist-" + a.id;
    tr.appendChild(el("td", "", when(a.decided_ms)));
    tr.appendChild(el("td", "st-" + a.status, a.status));
    tr.appendChild(el("td", "", a.subject));
    tr.appendChild(el("td", "", a.target));
    tr.appendChild(el("td", "", a.rule));
    tr.appendChild(el("td", "", a.decided_by || ""));
    tr.appendChild(el("td", "", a.reason || ""));
    const td = el("td");
    td.appendChild(sqlBlock(a.sql, true));
    tr.appendChild(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function focusFromHash() {
  const m = /^#\/approvals\/([0-9a-f]{32})$/.exec(location.hash);
  if (currentView() !== "approvals") return;
  if (!m) return;
  const c = $("req-" + m[1]) || $("hist-" + m[1]);
  if (c && !c.classList.contains("focus")) {
    c.classList.add("focus");
    c.scrollIntoView({ block: "center" });
  }
}

/* ---- sessions and replays (operators): evidence read from the audit trail ---------------- */

/* The numeric types psql right-aligns: int8, int2, int4, oid, float4, float8, numeric, money. */
const NUMERIC_OIDS = new Set([20, 21, 23, 26, 700, 701, 1700, 790]);
/* MySQL column types the mariadb client right-aligns (decimal, integers, float, double, NULL,
 * year, newdecimal) */
const MYSQL_NUMERIC = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 13, 246]);
let replayProto = "postgres"; /* the protocol of the replay shown */

function sessStatus(id, msg, isError) {
  const s = $(id);
  s.textContent = msg;
  s.className = isError ? "error" : "muted";
}

/* A datetime-local value (the browser's time zone) as the API's UTC time; null when bad. */
function localToIso(v) {
  const d = new Date(v);
  return isNaN(d.getTime()) ? null : d.toISOString();
}

async function loadSessions() {
  const q = new URLSearchParams();
  const sub = $("sess-sub").value.trim();
  const target = $("sess-target").value.trim();
  if (sub) q.set("sub", sub);
  if (target) q.set("target", target);
  for (const [key, id] of [["since", "sess-since"], ["until", "sess-until"]]) {
    const v = $(id).value;
    if (!v) continue;
    const iso = localToIso(v);
    if (!iso) return sessStatus("sess-status", "not a time: " + v, true);
    q.set(key, iso);
  }
  if ($("sess-denied").checked) q.set("verdict", "deny");
  q.set("limit", "200");
  let r;
  try {
    r = await api("GET", "/api/sessions?" + q.toString());
  } catch (e) {
    return sessStatus("sess-status", "the gateway did not answer", true);
  }
  if (r.status === 401) return logout("authentication failed");
  if (r.status !== 200 || !r.doc) {
    $("sessions").querySelector("tbody").replaceChildren();
    $("sess-count").textContent = "";
    return sessStatus("sess-status", (r.doc && r.doc.error) || ("HTTP " + r.status), true);
  }
  renderSessions(r.doc.sessions || [], r.doc.total || 0);
}

function renderSessions(list, total) {
  const rows = [];
  for (const s of list) {
    const tr = el("tr", s.recorded ? "link" : "");
    tr.id = "sess-" + s.id;
    const first = el("td");
    if (s.recorded) {
      const a = el("a", "", when(Date.parse(s.start)));
      a.href = "#/sessions/" + s.id;
      first.appendChild(a);
      tr.addEventListener("click", (e) => {
        if (e.target.tagName !== "A") location.hash = "#/sessions/" + s.id;
      });
    } else {
      first.textContent = when(Date.parse(s.start));
    }
    tr.appendChild(first);
    tr.appendChild(el("td", "", s.sub || "-"));
    tr.appendChild(el("td", "", s.target || "-"));
    tr.appendChild(el("td", "", s.client || "-"));
    tr.appendChild(el("td", "", s.end ? (s.reason || "") + " " + when(Date.parse(s.end)) : "(open)"));
    tr.appendChild(el("td", "n", s.statements === undefined ? "" : s.statements));
    tr.appendChild(el("td", s.denials > 0 ? "n bad" : "n", s.denials === undefined ? "" : s.denials));
    tr.appendChild(el("td", "", s.recorded ? "yes" : "no"));
    tr.appendChild(el("td", "", s.protocol || "postgres"));
    rows.push(tr);
  }
  $("sessions").querySelector("tbody").replaceChildren(...rows);
  $("sess-count").textContent = "(" + total + ")";
  sessStatus("sess-status", list.length < total
    ? "the newest " + list.length + " of " + total + " shown; narrow the search for older ones"
    : (total ? "newest first" : "no session matches"), false);
}

function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

/* A MySQL result's summary line as the mariadb client writes it. */
function mysqlFoot(r) {
  let t;
  if (r.prepared) {
    t = "Statement prepared: " + plural(r.prepared.params, "parameter", "parameters") + ", " +
      plural(r.prepared.columns, "column", "columns");
  } else if (r.columns) {
    const n = (r.rows || []).length + (r.rows_omitted || 0);
    t = n ? plural(n, "row in set", "rows in set") : "Empty set";
  } else {
    t = "Query OK, " + plural(r.affected_rows || 0, "row affected", "rows affected");
  }
  if (r.warnings) t += ", " + plural(r.warnings, "warning", "warnings");
  if (r.time_ms !== undefined) t += " (" + (r.time_ms / 1000).toFixed(3) + " sec)";
  return t;
}

/* One result as an aligned table: psql's or the mariadb client's alignment (numbers right),
 * NULL as an empty cell (PostgreSQL) or as NULL (MySQL, as its client shows it). */
function resultTable(r) {
  const box = el("div", "result");
  const my = replayProto === "mysql";
  if (my && !r.columns) {
    box.appendChild(el("p", "tag", mysqlFoot(r)));
    if (r.info) box.appendChild(el("p", "tag", r.info));
  } else if (r.columns) {
    const t = el("table", "rows");
    const right = (r.types || []).map((ty) => (my ? MYSQL_NUMERIC : NUMERIC_OIDS).has(ty));
    const hr = el("tr");
    r.columns.forEach((c) => hr.appendChild(el("th", "", c)));
    const thead = el("thead");
    thead.appendChild(hr);
    t.appendChild(thead);
    const body = el("tbody");
    for (const row of r.rows || []) {
      const tr = el("tr");
      row.forEach((v, j) => {
        const td = el("td", (right[j] ? "right" : "") + (v === null ? " null" : ""),
          v === null ? (my ? "NULL" : "") : v);
        if (v === null) td.title = "NULL";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    t.appendChild(body);
    box.appendChild(t);
    const n = (r.rows || []).length + (r.rows_omitted || 0);
    let foot = my ? mysqlFoot(r) : "(" + n + (n === 1 ? " row)" : " rows)");
    if (r.rows_omitted) foot += ", the first " + r.rows.length + " shown";
    box.appendChild(el("p", "tag", foot));
  } else if (r.tag) {
    box.appendChild(el("p", "tag", r.tag));
  }
  return box;
}

function statementBox(s, i) {
  const box = el("div", "stmt");
  box.id = "stmt-" + i;
  box.dataset.n = s.n;
  const head = el("div", "stmt-head");
  if (s.t_us !== undefined) {
    head.appendChild(el("span", "stmt-n", "#" + s.n));
    if (s.verdict) head.appendChild(el("span", "verdict v-" + s.verdict, s.verdict));
    if (s.rule) head.appendChild(el("span", "rule", "rule " + s.rule));
    if (replayProto === "mysql" && s.command && s.command !== "COM_QUERY")
      head.appendChild(el("span", "rule", s.command));
    if (s.approval) {
      const a = s.approval;
      head.appendChild(el("span", "approval", "approval: " + (a.outcome || "?") +
        (a.reviewer ? " by " + a.reviewer : "") + (a.reason ? " (" + a.reason + ")" : "")));
    }
    box.appendChild(head);
    box.appendChild(s.sql === undefined || s.sql === null
      ? el("p", "muted", "(statement not in the audit trail)") : sqlBlock(s.sql, false));
  } else {
    head.appendChild(el("span", "muted", "before any statement"));
    box.appendChild(head);
  }
  for (const item of s.out || []) {
    if ("result" in item) {
      box.appendChild(resultTable(s.results[item.result]));
    } else if ("error" in item || "notice" in item) {
      const e = "error" in item ? s.errors[item.error] : s.notices[item.notice];
      if (replayProto === "mysql") {
        box.appendChild(el("div", "pg-error",
          "ERROR " + e.code + " (" + e.sqlstate + "): " + e.message));
        continue;
      }
      const d = el("div", "error" in item ? "pg-error" : "pg-notice",
        e.severity + ":  " + e.message);
      if (e.sqlstate) d.appendChild(el("span", "sqlstate", " SQLSTATE " + e.sqlstate));
      box.appendChild(d);
    } else if ("copy" in item) {
      box.appendChild(el("pre", "copy", item.copy));
    } else if ("time_ms" in item) {
      box.appendChild(el("p", "time", "Time: " + item.time_ms.toFixed(3) + " ms"));
    }
  }
  return box;
}

async function loadReplay(id) {
  $("replay-id").textContent = id;
  $("replay-meta").replaceChildren();
  $("replay-flags").replaceChildren();
  $("replay").replaceChildren();
  sessStatus("replay-status", "loading", false);
  let r;
  try {
    r = await api("GET", "/api/sessions/" + encodeURIComponent(id));
  } catch (e) {
    return sessStatus("replay-status", "the gateway did not answer", true);
  }
  if (r.status === 401) return logout("authentication failed");
  if (r.status !== 200 || !r.doc) {
    return sessStatus("replay-status", (r.doc && r.doc.error) || ("HTTP " + r.status), true);
  }
  if (currentView() !== "replay" || $("replay-id").textContent !== id) return;
  const doc = r.doc;
  const who = doc.who || {};
  const meta = $("replay-meta");
  replayProto = doc.protocol || "postgres";
  meta.appendChild(metaItem("protocol", replayProto));
  meta.appendChild(metaItem("identity", who.sub));
  meta.appendChild(metaItem("issuer", who.iss));
  meta.appendChild(metaItem("groups", (who.groups || []).join(", ") || "-"));
  meta.appendChild(metaItem("target", who.target));
  meta.appendChild(metaItem("from", who.client));
  meta.appendChild(metaItem("as role", who.role));
  meta.appendChild(metaItem("ended", doc.end || "(open)"));
  const stmts = doc.statements || [];
  meta.appendChild(metaItem("statements", stmts.filter((s) => s.t_us !== undefined).length));
  if (doc.truncated)
    $("replay-flags").appendChild(el("p", "warn",
      "The recording stops here: the session passed audit.record_max_bytes."));
  if (!doc.complete)
    $("replay-flags").appendChild(el("p", "warn",
      "Chunks of this recording are missing: what follows has gaps."));
  $("replay").replaceChildren(...stmts.map(statementBox));
  sessStatus("replay-status", "what the agent received, masked values as recorded", false);
}

/* ---- views: the URL's hash chooses ------------------------------------------------------ */

function currentView() {
  if (/^#\/sessions\/[^/]+$/.test(location.hash)) return "replay";
  if (/^#\/sessions\/?$/.test(location.hash)) return "sessions";
  return "approvals";
}

function route() {
  if (!token) return;
  const v = currentView();
  $("approvals-view").hidden = v !== "approvals";
  $("sessions-view").hidden = v !== "sessions";
  $("replay-view").hidden = v !== "replay";
  $("nav-approvals").classList.toggle("here", v === "approvals");
  $("nav-sessions").classList.toggle("here", v !== "approvals");
  document.title = v === "approvals" ? "ringgate approvals" : "ringgate sessions";
  if (v === "approvals") {
    refresh();
    focusFromHash();
  } else if (v === "sessions") {
    loadSessions();
  } else {
    loadReplay(decodeURIComponent(location.hash.slice("#/sessions/".length)));
  }
}

/* ---- polling, login, logout ---------------------------------------------------------------- */

async function refresh() {
  if (currentView() !== "approvals") return;
  let r;
  try {
    r = await api("GET", "/api/approvals?limit=200");
  } catch (e) {
    setStatus("the gateway did not answer; retrying", true);
    return;
  }
  if (r.status === 401) return logout("authentication failed");
  if (r.status !== 200 || !r.doc) {
    setStatus((r.doc && r.doc.error) || ("HTTP " + r.status), true);
    return;
  }
  lastNow = r.doc.now_ms || Date.now();
  const all = r.doc.approvals || [];
  /* oldest pending first: the one closest to its expiry is on top */
  renderPending(all.filter((a) => a.status === "pending" && a.expires_ms > lastNow)
    .sort((x, y) => x.created_ms - y.created_ms), lastNow);
  renderHistory(all.filter((a) => a.status !== "pending"));
  $("status").textContent = "updated " + new Date().toLocaleTimeString();
  $("status").className = "muted";
}

function show(loggedIn) {
  $("login").hidden = loggedIn;
  $("app").hidden = !loggedIn;
  $("logout").hidden = !loggedIn;
  $("nav").hidden = !loggedIn;
}

function whoFromToken(t) {
  try {
    const p = JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return String(p.sub || "") + (Array.isArray(p.groups) ? " (" + p.groups.join(", ") + ")" : "");
  } catch (e) {
    return "";
  }
}

function start() {
  show(true);
  $("who").textContent = whoFromToken(token);
  route();
  if (timer) clearInterval(timer);
  timer = setInterval(refresh, POLL_MS);
}

function logout(why) {
  if (timer) clearInterval(timer);
  timer = null;
  token = "";
  sessionStorage.removeItem(KEY);
  $("pending").replaceChildren();
  $("history").querySelector("tbody").replaceChildren();
  $("sessions").querySelector("tbody").replaceChildren();
  $("replay").replaceChildren();
  $("replay-meta").replaceChildren();
  $("who").textContent = "";
  $("login-error").textContent = why || "";
  show(false);
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = $("token").value.trim();
  $("login-error").textContent = "";
  if (!t) return;
  token = t;
  let r;
  try {
    r = await api("GET", "/api/approvals?limit=1");
  } catch (err) {
    $("login-error").textContent = "the gateway did not answer";
    return;
  }
  if (r.status !== 200) {
    token = "";
    $("login-error").textContent = (r.doc && r.doc.error) || ("HTTP " + r.status);
    return;
  }
  sessionStorage.setItem(KEY, t);
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => logout(""));
$("sess-search").addEventListener("submit", (e) => {
  e.preventDefault();
  loadSessions();
});
window.addEventListener("hashchange", route);

if (token) start(); else show(false);

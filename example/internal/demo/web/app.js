// jwtpair cookie-mode demo: plain JavaScript, no build step.
"use strict";

const CSRF_COOKIE = document.body.dataset.csrfCookie;
const CSRF_HEADER = document.body.dataset.csrfHeader;
const SESSIONS = document.body.dataset.sessions === "on"; // -sessions: the session endpoints are there
const $ = (id) => document.getElementById(id);

let refreshTimer = 0;
let counts = { refreshes: 0, recoveries: 0 };

function log(msg) {
  const line = new Date().toISOString().slice(11, 23) + "  " + msg + "\n";
  $("log").textContent = line + $("log").textContent;
}

// The CSRF cookie is the only cookie scripts can read (the token cookies
// are HttpOnly).
function csrfToken() {
  for (const c of document.cookie.split("; ")) {
    const i = c.indexOf("=");
    if (c.slice(0, i) === CSRF_COOKIE) return decodeURIComponent(c.slice(i + 1));
  }
  return "";
}

// api sends a same-origin request with the cookies; unsafe methods carry
// the CSRF token.
async function api(method, path, body) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") headers[CSRF_HEADER] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { /* empty or not JSON */ }
  return { status: resp.status, data, date: resp.headers.get("Date") };
}

function setState(state) {
  $("state").textContent = state;
  document.body.dataset.state = state;
}

function loggedOut(why) {
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  setState("logged-out");
  $("user").textContent = "";
  $("access-expires").textContent = "";
  if (SESSIONS) showSessions([]);
  log("logged out: " + why);
}

// schedule plans the next silent refresh from the access expiry the server
// gave (Unix seconds), measured against the server's own Date header so
// that a skewed client clock does not matter: a quarter of the lifetime
// (between 1 s and 60 s) before it ends. Date counts whole seconds, so up
// to one second of the lifetime may already be gone.
function schedule(r) {
  const exp = r.data.access_expires;
  const serverNow = r.date ? Math.floor(Date.parse(r.date) / 1000) : Math.floor(Date.now() / 1000);
  const lifetime = Math.max(1, exp - serverNow - 1);
  const margin = Math.min(60, Math.max(1, lifetime / 4));
  const delay = Math.max(0.5, lifetime - margin);
  $("access-expires").textContent = new Date(exp * 1000).toISOString();
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh("scheduled"), delay * 1000);
  log("next refresh in " + delay.toFixed(1) + " s");
}

// refresh trades the refresh cookie for new cookies. Tabs of this origin
// share the cookies, so they take turns (Web Locks) to never present one
// refresh token twice.
async function refresh(why) {
  const run = async () => {
    const r = await api("POST", "/api/token/refresh/");
    if (r.status !== 200) {
      loggedOut("refresh answered " + r.status + (r.data && r.data.detail ? " (" + r.data.detail + ")" : ""));
      return false;
    }
    if (why === "scheduled") $("refreshes").textContent = String(++counts.refreshes);
    if (why === "recovery") $("recoveries").textContent = String(++counts.recoveries);
    log("refreshed (" + why + ")");
    schedule(r);
    return true;
  };
  return navigator.locks ? navigator.locks.request("jwtpair-refresh", run) : run();
}

// authed is api for a request the session authorizes: after a 401 (the
// access token expired, or its session ended) it refreshes and, when the
// refresh worked, tries once more. A refresh refused logs the page out.
async function authed(method, path) {
  const r = await api(method, path);
  if (r.status === 401 && csrfToken() && await refresh("recovery")) {
    return api(method, path); // once, after a refresh
  }
  return r;
}

async function whoAmI() {
  const r = await api("GET", "/hello/");
  if (r.status === 200) {
    $("user").textContent = r.data.user_id;
    setState("logged-in");
    await listSessions();
  }
  return r;
}

async function hello(method) {
  const r = await authed(method, "/hello/");
  $("hello-status").textContent = String(r.status);
  $("hello-result").textContent = method + " " + r.status + " " + JSON.stringify(r.data);
  log(method + " /hello/ → " + r.status);
}

// The sessions panel (-sessions). Every string of a session, its client's
// user agent above all, is the client's to choose: it goes into the page as
// text (textContent), never as HTML.
async function listSessions() {
  if (!SESSIONS) return;
  const r = await authed("GET", "/api/sessions/");
  $("sessions-status").textContent = "GET " + r.status;
  showSessions(r.status === 200 ? r.data : []);
}

function showSessions(list) {
  const rows = list.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.sid = s.id;
    tr.dataset.current = String(s.current);
    const client = (s.client.user_agent || "unknown client") + (s.client.ip ? " from " + s.client.ip : "");
    for (const [text, cls] of [[s.created, ""], [s.last_refreshed, ""], [client, "client"]]) {
      const td = document.createElement("td");
      td.textContent = text;
      td.className = cls;
      tr.append(td);
    }
    const action = document.createElement("td");
    if (s.current) {
      action.textContent = "this browser";
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "end-session";
      b.textContent = "End";
      b.addEventListener("click", () => endSession(s.id));
      action.append(b);
    }
    tr.append(action);
    return tr;
  });
  $("sessions").replaceChildren(...rows);
  $("sessions-count").textContent = String(list.length);
}

async function endSession(sid) {
  const r = await authed("DELETE", "/api/sessions/" + encodeURIComponent(sid) + "/");
  $("sessions-status").textContent = "DELETE " + r.status;
  log("end session → " + r.status);
  if (document.body.dataset.state === "logged-in") await listSessions(); // 404 too: the list was stale
}

async function endOtherSessions() {
  const r = await authed("POST", "/api/sessions/end-others/");
  $("sessions-status").textContent = "POST " + r.status;
  log("end all other sessions → " + r.status);
  if (document.body.dataset.state === "logged-in") await listSessions();
}

if (SESSIONS) {
  $("list-sessions").addEventListener("click", listSessions);
  $("end-others").addEventListener("click", endOtherSessions);
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await api("POST", "/api/token/", { username: $("username").value, password: $("password").value });
  if (r.status !== 200) {
    loggedOut("login answered " + r.status);
    return;
  }
  log("logged in");
  schedule(r);
  await whoAmI();
});
$("get-hello").addEventListener("click", () => hello("GET"));
$("post-hello").addEventListener("click", () => hello("POST"));
$("logout").addEventListener("click", async () => {
  const r = await api("POST", "/api/token/blacklist/");
  loggedOut("logout answered " + r.status);
});

// On load, resume the session from the refresh cookie, if any.
(async () => {
  if (!csrfToken()) {
    loggedOut("no session");
    return;
  }
  if (await refresh("resume")) await whoAmI();
})();

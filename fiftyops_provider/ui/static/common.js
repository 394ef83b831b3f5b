// Shared by the FiftyOps pages: API calls with the Airflow session cookie, small DOM helpers.
"use strict";

// Where the FiftyOps app is mounted (e.g. /fiftyops), filled in by the server; the API is below it.
const FIFTYOPS_BASE = document.body.dataset.base;

// Airflow 3.0's UI keeps its session token in localStorage, not in the `_token` cookie: copy it into
// a cookie scoped to these pages, so API calls and download links carry it (set by the server).
if (document.body.dataset.tokenInLocalStorage && localStorage.getItem("token")) {
  document.cookie = `_token=${localStorage.getItem("token")}; path=${FIFTYOPS_BASE || "/"}; SameSite=Strict`;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Every call carries X-FiftyOps-Request, which a page on another site cannot make the browser
// send: the server refuses cookie-authenticated changes without it. Changes send JSON ({} when
// there is nothing to say); uploads pass their own body and Content-Type.
async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  init.headers = { "X-FiftyOps-Request": "1", ...(options.headers || {}) };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`${FIFTYOPS_BASE}/api${path}`, init);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
  if (!response.ok) {
    let detail = body && body.detail !== undefined ? body.detail : body;
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    if (response.status === 401) detail = "You are not logged in to Airflow: log in, then reload this page.";
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showMessage(text, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

// Run an action; show its error (the server's message says what to do) instead of failing
// silently, or its success message when it has one (reloads keep the last message up).
async function attempt(action, success) {
  try {
    const result = await action();
    if (success) showMessage(success, "info");
    return result;
  } catch (error) {
    showMessage(error.message);
    return undefined;
  }
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

function stateBadge(run) {
  const details = [`${run.run_state}`];
  if (run.queue_position) details.push(`position ${run.queue_position} in the ${run.run_state} queue`);
  if (run.queued_by) details.push(`queued by ${run.queued_by}`);
  if (run.started_at) details.push(`started ${formatTime(run.started_at)}`);
  if (run.attempt > 1) details.push(`attempt ${run.attempt}`);
  if (run.termination_requested && run.run_state === "running") details.push("termination requested");
  if (run.error_message) details.push(run.error_message);
  return el("span", { class: `badge ${run.run_state}`, title: details.join("\n"), "data-testid": "state" }, run.run_state);
}

function progressBar(run) {
  if (run.run_state !== "running") return null;
  const pct = run.progress === null || run.progress === undefined ? null : Math.round(run.progress * 100);
  return el("div", { class: "progress", title: run.progress_label || "" },
    el("div", { class: "bar", style: `width:${pct === null ? 100 : pct}%`, "data-indeterminate": pct === null ? "1" : null }),
    el("span", {}, pct === null ? (run.progress_label || "running") : `${pct}%${run.progress_label ? " " + run.progress_label : ""}`));
}

async function whoAmI() {
  const me = await api("/me");
  document.getElementById("whoami").textContent = `${me.name} (${me.role})`;
  return me;
}

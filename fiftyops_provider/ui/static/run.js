// The Run page: one operation's inputs, outputs, errors, logs, view and pipeline stages.
"use strict";

const RUN_ID = document.body.dataset.runId;
const LOG_POLL_MS = 2000;
const runPage = { run: null, tab: "input", logTimer: null };

function keyValueTable(values, schema) {
  const properties = (schema && schema.properties) || {};
  const rows = Object.entries(values || {}).map(([key, value]) => {
    const spec = properties[key] || {};
    return el("tr", {}, el("th", { title: spec.description || "" }, spec.title || spec.label || key),
      el("td", {}, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)));
  });
  return rows.length ? el("table", { class: "kv" }, el("tbody", {}, rows)) : el("p", { class: "muted" }, "Nothing.");
}

function withRawToggle(rendered, raw) {
  const pre = el("pre", { hidden: true, "data-testid": "raw" }, JSON.stringify(raw, null, 2));
  const toggle = el("label", {}, el("input", { type: "checkbox", "data-testid": "show-raw", onchange: (e) => {
    pre.hidden = !e.target.checked;
    rendered.hidden = e.target.checked;
  } }), " Show raw");
  return [toggle, rendered, pre];
}

const TABS = {
  input: ["Input", (run) => withRawToggle(keyValueTable(run.inputs, run.inputs_schema), run.inputs)],
  output: ["Output", (run) => run.outputs === null || run.outputs === undefined
    ? el("p", { class: "muted" }, run.run_state === "completed" ? "This operation returned nothing." : "No output yet.")
    : withRawToggle(typeof run.outputs === "object" ? keyValueTable(run.outputs, run.outputs_schema) : el("p", {}, String(run.outputs)), run.outputs)],
  errors: ["Errors", (run) => [el("p", { class: "error-message", "data-testid": "error-message" }, run.error_message || ""),
    el("pre", { class: "trace", "data-testid": "trace" }, run.error || "")]],
  logs: ["Logs", () => el("div", { id: "logs" }, el("p", { class: "muted" }, "Loading logs…"))],
  view: ["View", (run) => keyValueTable(Object.fromEntries(Object.entries(run.view).filter(([, v]) => v !== null && v !== undefined)))],
  stages: ["Stages", (run) => [
    el("table", { class: "kv", "data-testid": "stages" }, el("tbody", {}, run.stages.map((stage, i) =>
      el("tr", {}, el("th", {}, `${i + 1}. ${stage.name}`), el("td", {}, stage.operator),
        el("td", { class: "muted" }, stage.always_run ? "always runs" : ""), el("td", { class: "muted" }, JSON.stringify(stage.params)))))),
    run.children.length ? el("table", { class: "kv", "data-testid": "children" }, el("tbody", {}, run.children.map((child) =>
      el("tr", {}, el("td", {}, stateBadge(child)), el("td", {}, el("a", { href: `${FIFTYOPS_BASE}/runs/${child.id}` }, child.label)),
        el("td", { class: "muted" }, child.operator))))) : null,
  ]],
};

function visibleTabs(run) {
  return Object.keys(TABS).filter((name) => (name !== "errors" || run.run_state === "failed") && (name !== "stages" || run.pipeline));
}

function renderTabs() {
  const run = runPage.run;
  document.getElementById("tabs").replaceChildren(...visibleTabs(run).map((name) =>
    el("button", { class: name === runPage.tab ? "tab active" : "tab", "data-testid": `tab-${name}`, onclick: () => showTab(name) }, TABS[name][0])));
}

function showTab(name) {
  runPage.tab = name;
  clearTimeout(runPage.logTimer);
  renderTabs();
  document.getElementById("panel").replaceChildren(...[TABS[name][1](runPage.run)].flat());
  if (name === "logs") loadLogs();
}

async function loadLogs() {
  const logs = await attempt(() => api(`/runs/${RUN_ID}/logs`));
  const box = document.getElementById("logs");
  if (!logs || !box) return;
  const download = el("a", { href: `${FIFTYOPS_BASE}/api/runs/${RUN_ID}/logs/download`, download: `${RUN_ID}.log`,
    class: "button", "data-testid": "download-logs" }, "Download logs");
  if (logs.download_only) {
    box.replaceChildren(el("p", { "data-testid": "logs-too-big" }, `This log is ${logs.log_size} bytes, too big to show here.`), download);
    return;
  }
  const rows = logs.entries.map((entry) => el("tr", { class: `level-${(entry.level || "").toLowerCase()}` },
    el("td", { class: "nowrap" }, entry.timestamp ? formatTime(entry.timestamp) : ""), el("td", {}, entry.level || ""),
    el("td", { class: "message-cell" }, entry.message)));
  box.replaceChildren(
    el("div", { class: "toolbar" }, download, logs.running ? el("span", { class: "muted" }, " live: refreshing while it runs") : null,
      logs.complete ? null : el("span", { class: "muted" }, " (the last lines stored with the run; the log file is not on this server)")),
    rows.length ? el("table", { class: "logs", "data-testid": "log-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Time"), el("th", {}, "Severity"), el("th", {}, "Message"))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No log lines yet."));
  if (logs.running) runPage.logTimer = setTimeout(loadLogs, LOG_POLL_MS);
}

function renderSummary(run) {
  document.getElementById("title").textContent = run.label;
  // replaceChildren writes a null as the text "null": leave out what a run does not have (a
  // finished run's progress bar, a run link not set yet).
  document.getElementById("summary").replaceChildren(...[
    stateBadge(run), progressBar(run),
    el("span", {}, ` ${run.operator}`), el("span", { class: "muted" }, ` on ${run.dataset_name || "no dataset"}, by ${run.queued_by || "unknown"}`),
    run.run_link ? el("a", { href: run.run_link, target: "_top", "data-testid": "run-link" }, " Airflow task instance") : null,
  ].filter((node) => node !== null));
}

async function initRun() {
  if (!await attempt(whoAmI)) return;
  const run = await attempt(() => api(`/runs/${RUN_ID}`));
  if (!run) return;
  runPage.run = run;
  renderSummary(run);
  showTab(run.run_state === "failed" ? "errors" : "input");
}

initRun();

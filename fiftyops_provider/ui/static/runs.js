// The Runs page: filter, sort, search and page the operation store; act on a run.
"use strict";

const PINNED_SHOWN = 5;
const REFRESH_MS = 3000;
const runsState = { skip: 0, limit: 20, total: 0, me: null, refresh: null, pinnedAll: false };

function listQuery(extra = {}) {
  const params = new URLSearchParams();
  const dataset = document.getElementById("dataset").value;
  if (dataset) params.set("dataset_id", dataset);
  if (document.getElementById("scope").value === "mine") params.set("mine", "true");
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

async function loadRuns() {
  const params = listQuery({ sort: document.getElementById("sort").value, skip: runsState.skip, limit: runsState.limit });
  for (const box of document.querySelectorAll("#states input:checked")) params.append("state", box.value);
  const search = document.getElementById("search").value;
  if (search) params.set("search", search);
  if (document.getElementById("search-label").checked) params.set("search_label", "true");
  const page = await attempt(() => api(`/runs?${params}`));
  if (!page) return;
  runsState.total = page.total;
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(...page.items.map(runRow));
  if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No runs match.")));
  const last = runsState.skip + page.items.length;
  document.getElementById("page-info").textContent =
    `${page.items.length ? runsState.skip + 1 : 0}–${last} of ${page.total}${page.total_is_exact ? "" : "+"}`;
  document.getElementById("prev").disabled = runsState.skip === 0;
  document.getElementById("next").disabled = last >= page.total;
  await loadPinned();
}

function runRow(run) {
  return el("tr", { "data-run-id": run.id, "data-testid": "run-row" },
    el("td", {}, stateBadge(run), progressBar(run)),
    el("td", { class: "label-cell" }, labelCell(run), el("div", { class: "muted" }, run.operator)),
    el("td", {}, run.dataset_name || ""),
    el("td", {}, run.queued_by || ""),
    el("td", { title: run.updated_at ? `updated ${formatTime(run.updated_at)}` : "" }, formatTime(run.created_at)),
    el("td", {}, run.run_link ? el("a", { href: run.run_link, target: "_top", "data-testid": "run-link" }, "Airflow task") : ""),
    el("td", { class: "actions" }, rowActions(run)));
}

function labelCell(run) {
  const link = el("a", { href: `${FIFTYOPS_BASE}/runs/${run.id}`, "data-testid": "run-label" }, run.label);
  if (!run.can_change) return link;
  const edit = el("button", { class: "link", title: "Rename", "data-testid": "rename", onclick: () => {
    const input = el("input", { value: run.label, "data-testid": "rename-input", class: "inline" });
    const save = async () => {
      if (input.value !== run.label) await attempt(() => api(`/runs/${run.id}/label`, { method: "POST", json: { label: input.value } }), "Renamed.");
      await loadRuns();
    };
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") save(); if (e.key === "Escape") loadRuns(); });
    link.replaceWith(input);
    edit.remove();
    input.focus();
  } }, "✎");
  return el("span", {}, link, " ", edit);
}

function rowActions(run) {
  const act = (name, label, handler, enabled = true) =>
    el("button", { "data-testid": name, disabled: !enabled, onclick: handler }, label);
  const post = (path, json, done) => async () => {
    await attempt(() => api(`/runs/${run.id}/${path}`, { method: "POST", json }), done);
    await loadRuns();
  };
  const live = run.run_state === "running" || run.run_state === "queued" || run.run_state === "scheduled";
  return [
    act("rerun", "Re-run", post("rerun", {}, "Queued a new run."), run.rerunnable),
    run.can_change ? act("pin", run.pinned ? "Unpin" : "Pin", post("pin", { pinned: !run.pinned })) : null,
    run.can_change && live ? act("terminate", "Terminate", async () => {
      if (!confirm("Terminate this run? A running task stops at its next checkpoint, or is killed after a grace period.")) return;
      await post("terminate", {}, "Termination requested.")();
    }) : null,
    run.can_change && live ? act("mark-failed", "Mark failed", async () => {
      if (!confirm("Mark this run as failed? If the termination cannot be delivered to where it runs, the external work may keep running.")) return;
      await post("mark-failed", {}, "Marked failed.")();
    }) : null,
    el("a", { href: `${FIFTYOPS_BASE}/api/runs/${run.id}/logs/download`, download: `${run.id}.log`, "data-testid": "download-logs" }, "Logs"),
  ];
}

async function loadPinned() {
  const pinned = await attempt(() => api(`/runs/pinned?${listQuery()}`));
  if (!pinned) return;
  const shown = runsState.pinnedAll ? pinned : pinned.slice(0, PINNED_SHOWN);
  const list = document.getElementById("pinned-list");
  list.replaceChildren(...shown.map((run) =>
    el("li", { "data-testid": "pinned-run" }, stateBadge(run), " ", el("a", { href: `${FIFTYOPS_BASE}/runs/${run.id}` }, run.label))));
  if (!pinned.length) list.append(el("li", { class: "muted" }, "Pin a run to keep it here."));
  const more = document.getElementById("pinned-more");
  more.hidden = pinned.length <= PINNED_SHOWN;
  more.textContent = runsState.pinnedAll ? "Show fewer" : `Show more (${pinned.length - PINNED_SHOWN})`;
}

function setAutoRefresh(on) {
  clearInterval(runsState.refresh);
  runsState.refresh = on ? setInterval(loadRuns, REFRESH_MS) : null;
}

async function initRuns() {
  const me = await attempt(whoAmI);
  if (!me) return;
  runsState.me = me;
  const datasets = await attempt(() => api("/datasets")) || [];
  const select = document.getElementById("dataset");
  if (me.is_admin) select.append(el("option", { value: "" }, "All datasets"));
  for (const d of datasets) select.append(el("option", { value: d.id }, d.name));
  const wanted = new URLSearchParams(location.search).get("dataset_id");
  if (wanted) select.value = wanted;
  if (!me.is_admin) {
    const scope = document.getElementById("scope");
    scope.value = select.value ? "all" : "mine";
    if (!datasets.length) select.append(el("option", { value: "" }, "(no datasets shared with you)"));
  }
  const reload = () => { runsState.skip = 0; loadRuns(); };
  for (const id of ["dataset", "scope", "sort", "search-label"]) document.getElementById(id).addEventListener("change", reload);
  for (const box of document.querySelectorAll("#states input")) box.addEventListener("change", reload);
  document.getElementById("search-form").addEventListener("submit", (e) => { e.preventDefault(); reload(); });
  document.getElementById("prev").addEventListener("click", () => { runsState.skip = Math.max(0, runsState.skip - runsState.limit); loadRuns(); });
  document.getElementById("next").addEventListener("click", () => { runsState.skip += runsState.limit; loadRuns(); });
  document.getElementById("auto-refresh").addEventListener("change", (e) => setAutoRefresh(e.target.checked));
  document.getElementById("pinned-more").addEventListener("click", () => { runsState.pinnedAll = !runsState.pinnedAll; loadPinned(); });
  setAutoRefresh(document.getElementById("auto-refresh").checked);
  await loadRuns();
}

initRuns();

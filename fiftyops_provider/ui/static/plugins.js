// The Plugins page: everyone sees what is installed; admins install, upgrade, uninstall, enable
// and set permissions (the API refuses these to anyone else, whatever the page shows).
"use strict";

const pluginsPage = { canManage: false, roles: [], permissions: [] };

function choice(options, value, onchange, testid) {
  return el("select", { "data-testid": testid, disabled: !pluginsPage.canManage, onchange: (e) => onchange(e.target.value) },
    options.map((option) => el("option", { value: option, selected: option === value }, option)));
}

async function change(path, json, done) {
  await attempt(() => api(path, { method: "POST", json }), done);
  await loadPlugins();
}

// Timeout, on_reset and attempts as the executor applies them. A FiftyOne plugin's operator declares
// none: an admin sets them here (a FiftyOps operator declares them in its code).
function policyCell(plugin, name, spec, set) {
  const config = { ...spec.config, ...(spec.policy_override || {}) };
  const timeout = config.execution_timeout || 3600, onReset = config.on_reset || "failed", attempts = config.max_attempts || 1;
  if (plugin.runtime !== "fiftyone" || !pluginsPage.canManage)
    return el("td", { "data-testid": "execution-policy" }, `${timeout}s, on_reset ${onReset}, max ${attempts}`);
  const number = (value, field, testid) => el("input", { type: "number", min: 1, value, "data-testid": testid, style: "width: 6em",
    onchange: (e) => set({ [field]: Number(e.target.value) }, `${name}: ${field} ${e.target.value}.`) });
  return el("td", { "data-testid": "execution-policy" }, number(timeout, "execution_timeout", "execution-timeout"), "s ",
    choice(["failed", "rerun"], onReset, (v) => set({ on_reset: v }, `${name}: on_reset ${v}.`), "on-reset"),
    " max ", number(attempts, "max_attempts", "max-attempts"));
}

function operatorRow(plugin, name, spec) {
  const set = (fields, done) => change("/plugins/operator", { name: plugin.name, operator: name, ...fields }, done);
  return el("tr", { "data-operator": name, "data-testid": "operator-row" },
    el("td", {}, spec.label || name, el("div", { class: "muted" }, `${plugin.name}/${name}`)),
    el("td", {}, el("input", { type: "checkbox", checked: spec.enabled, disabled: !pluginsPage.canManage, "data-testid": "operator-enabled",
      onchange: (e) => set({ enabled: e.target.checked }, `${name} ${e.target.checked ? "enabled" : "disabled"}.`) })),
    el("td", {}, spec.delegation_capable ? "yes" : "no"),
    el("td", {}, choice(pluginsPage.roles, spec.minimum_role, (v) => set({ minimum_role: v }, `${name} now needs ${v}.`), "minimum-role")),
    el("td", {}, choice(pluginsPage.permissions, spec.minimum_dataset_permission,
      (v) => set({ minimum_dataset_permission: v }, `${name} now needs ${v} on the dataset.`), "minimum-dataset-permission")),
    policyCell(plugin, name, spec, set));
}

function pluginCard(plugin) {
  const manage = pluginsPage.canManage ? [
    el("label", {}, el("input", { type: "checkbox", checked: plugin.enabled, "data-testid": "plugin-enabled",
      onchange: (e) => change("/plugins/enabled", { name: plugin.name, enabled: e.target.checked },
        `${plugin.name} ${e.target.checked ? "enabled" : "disabled"}.`) }), " Enabled"),
    el("button", { "data-testid": "uninstall", onclick: async () => {
      if (confirm(`Uninstall ${plugin.name}? Its operators can no longer be queued.`)) await change("/plugins/uninstall", { name: plugin.name }, `Uninstalled ${plugin.name}.`);
    } }, "Uninstall"),
  ] : [el("span", { class: "muted" }, plugin.enabled ? "enabled" : "disabled")];
  return el("section", { class: "card", "data-plugin": plugin.name, "data-testid": "plugin" },
    el("h2", {}, plugin.name, " ", el("span", { class: "muted", "data-testid": "plugin-version" }, plugin.version || ""),
      plugin.runtime === "fiftyone" ? el("span", { class: "muted", "data-testid": "plugin-runtime" }, " (FiftyOne plugin)") : ""),
    el("p", {}, plugin.description || ""), el("div", { class: "toolbar" }, manage),
    el("table", {}, el("thead", {}, el("tr", {}, ["Operator", "Enabled", "Delegated", "Minimum role", "Minimum dataset permission", "Execution policy"].map((h) => el("th", {}, h)))),
      el("tbody", {}, Object.entries(plugin.operators).sort().map(([name, spec]) => operatorRow(plugin, name, spec)))));
}

// FiftyOne's own delegable operators (its builtins): run by the FiftyOne interpreter, not installed
// here; admins govern each like an installed operator (enabled, permissions, execution policy).
function fiftyoneCard(operators, error) {
  return el("section", { class: "card", "data-testid": "fiftyone-operators" },
    el("h2", {}, "FiftyOne's own operators"),
    el("p", { class: "muted" }, error || "Delegable operators of the FiftyOne interpreter ([fiftyops] fiftyone_python); each enabled one has a DAG."),
    el("table", {}, el("thead", {}, el("tr", {}, ["Operator", "Enabled", "Delegated", "Minimum role", "Minimum dataset permission", "Execution policy"].map((h) => el("th", {}, h)))),
      el("tbody", {}, operators.map((op) => operatorRow({ name: op.plugin_name, runtime: "fiftyone" }, op.name, op)))));
}

async function loadOrgSettings() {
  const settings = await attempt(() => api("/org-settings"));
  if (!settings) return;
  const put = (fields, done) => attempt(() => api("/org-settings", { method: "PUT", json: fields }), done);
  document.getElementById("org-settings").replaceChildren(
    el("strong", {}, "Defaults for new operators:"),
    el("label", {}, " role ", choice(pluginsPage.roles, settings.default_operator_minimum_role,
      (v) => put({ default_operator_minimum_role: v }, `New operators will need ${v}.`), "default-role")),
    el("label", {}, " dataset permission ", choice(pluginsPage.permissions, settings.default_operator_minimum_dataset_permission,
      (v) => put({ default_operator_minimum_dataset_permission: v }, `New operators will need ${v}.`), "default-dataset-permission")));
}

async function loadPlugins() {
  const data = await attempt(() => api("/plugins"));
  if (!data) return;
  Object.assign(pluginsPage, { canManage: data.can_manage, roles: data.roles, permissions: data.dataset_permissions });
  document.getElementById("admin-tools").hidden = !data.can_manage;
  const list = document.getElementById("plugins");
  list.replaceChildren(...data.plugins.map(pluginCard));
  if (!data.plugins.length) list.append(el("p", { class: "muted" }, "No plugins installed."));
  if (data.fiftyone_operators.length || data.fiftyone_error) list.append(fiftyoneCard(data.fiftyone_operators, data.fiftyone_error));
}

async function initPlugins() {
  if (!await attempt(whoAmI)) return;
  await loadPlugins();
  if (pluginsPage.canManage) await loadOrgSettings();
  document.getElementById("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    const overwrite = document.getElementById("upload-overwrite").checked;
    const info = await attempt(() => api(`/plugins?overwrite=${overwrite}`, { method: "POST", body: file,
      headers: { "Content-Type": "application/zip" } }));
    if (info) showMessage(`Installed ${info.name} ${info.version || ""}.`, "info");
    await loadPlugins();
  });
}

initPlugins();

// Intentions (/v1/connect/intentions): the list in Consul's evaluation order, create and edit
// through the exact endpoint (allow/deny), delete with confirmation, and a who-may-talk-to-whom
// matrix over the catalog's services. ?source=&destination= in the URL opens that one for edit.
import { confirmDialog, h, notice, replaceKeepFocus } from "../dom.js";
import { label, precedence, sortIntentions, topology, validateIntention } from "../intention_rules.js";
import { formError } from "./acl_common.js";
import { emptyRow, errorSlot, pageHeader, plural } from "./common.js";

const exact = (source, destination) => ({ source, destination });

export function mount(root, ctx) {
  ctx.setTitle("Intentions");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "intentions" });
  const matrix = h("div", { class: "topology-wrap", "data-test": "topology" });
  const err = errorSlot();
  let intentions = null;
  let services = [];

  const names = h("datalist", { id: "ixn-services" });
  const source = h("input", { type: "text", name: "source", required: true, list: "ixn-services", "data-test": "ixn-source", autocomplete: "off" });
  const destination = h("input", { type: "text", name: "destination", required: true, list: "ixn-services", "data-test": "ixn-destination", autocomplete: "off" });
  const allow = h("input", { type: "radio", name: "action", value: "allow", checked: true, "data-test": "ixn-allow" });
  const deny = h("input", { type: "radio", name: "action", value: "deny", "data-test": "ixn-deny" });
  const description = h("input", { type: "text", name: "description", "data-test": "ixn-description" });
  const formErr = errorSlot();
  const title = h("h2", {}, "New intention");
  const cancel = h("button", { type: "button", hidden: true, "data-test": "ixn-cancel", onclick: () => edit(null) }, "Cancel edit");
  const form = h("form", { class: "edit-form ixn-form", "data-test": "ixn-form" }, title,
    h("div", { class: "ixn-pair" },
      h("label", { class: "field" }, h("span", {}, "Source service (* for any)"), source),
      h("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      h("label", { class: "field" }, h("span", {}, "Destination service (* for any)"), destination)),
    h("fieldset", { class: "actions" }, h("legend", {}, "Action"),
      h("label", { class: "pick" }, allow, " allow"), h("label", { class: "pick" }, deny, " deny")),
    h("label", { class: "field" }, h("span", {}, "Description"), description), formErr.el,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-test": "ixn-save" }, "Save"), cancel), names);

  // Editing keeps source and destination fixed: they are the intention's identity.
  const edit = (ixn) => {
    formErr.clear();
    source.value = ixn ? ixn.SourceName : "";
    destination.value = ixn ? ixn.DestinationName : "";
    source.readOnly = destination.readOnly = Boolean(ixn);
    (ixn && ixn.Action === "deny" ? deny : allow).checked = true;
    description.value = ixn ? ixn.Description || "" : "";
    title.textContent = ixn ? `Edit ${label(ixn)}` : "New intention";
    cancel.hidden = !ixn;
    const query = ixn ? { source: ixn.SourceName, destination: ixn.DestinationName } : {};
    ctx.route.query = query;
    ctx.router.setQuery(query);
    if (ixn) source.scrollIntoView({ block: "nearest" });
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    formErr.clear();
    const want = { source: source.value.trim(), destination: destination.value.trim(), action: deny.checked ? "deny" : "allow" };
    const problem = validateIntention(want);
    if (problem) { formErr.show({ message: problem }); return; }
    try {
      await ctx.api.putJSON("connect/intentions/exact", { SourceType: "consul", Action: want.action, Description: description.value },
        exact(want.source, want.destination));
      edit(null);
    } catch (ex) { formErr.show({ message: formError(ex) }); }
  });

  const remove = async (ixn) => {
    if (!(await confirmDialog(`Delete ${label(ixn)}?`, "Connections then follow the next matching intention or the default.", "Delete intention"))) return;
    try { await ctx.api.del("connect/intentions/exact", exact(ixn.SourceName, ixn.DestinationName)); } catch (e) { err.show({ message: formError(e) }); }
  };

  const render = () => {
    if (!intentions) return;
    count.textContent = plural(intentions.length, "intention");
    replaceKeepFocus(list, intentions.length ? sortIntentions(intentions).map((i) => row(i, edit, remove)) : emptyRow("No intentions: every connection follows the default."));
    names.replaceChildren(...["*", ...services].map((n) => h("option", { value: n })));
    renderTopology(matrix, topology(intentions, services, ctx.api.defaultPolicy), ctx.api.defaultPolicy);
    const q = ctx.route.query;
    if (q.source && q.destination && !source.readOnly) {
      const wanted = intentions.find((i) => i.SourceName === q.source && i.DestinationName === q.destination);
      if (wanted) edit(wanted);
    }
  };

  root.append(pageHeader("Intentions", count), err.el, form, list,
    h("h2", {}, "Who may talk to whom"), matrix);
  ctx.api.watch("connect/intentions", {}, {
    signal: ctx.signal,
    onData: (data) => { err.clear(); intentions = data || []; render(); },
    onError: (e) => { intentions = null; list.replaceChildren(); err.show(e); },
  });
  ctx.api.watch("catalog/services", {}, {
    signal: ctx.signal,
    onData: (data) => { services = Object.keys(data || {}).filter((n) => n !== "consul"); render(); },
  });
}

function row(ixn, edit, remove) {
  const key = `${ixn.SourceName}=>${ixn.DestinationName}`;
  return h("li", { class: `row ixn-${ixn.Action}`, "data-intention": key, "data-action": ixn.Action },
    h("div", { class: "row-main" },
      h("span", { class: `badge ${ixn.Action === "allow" ? "status-passing" : "status-critical"}` }, ixn.Action === "allow" ? "✓ allow" : "✕ deny"),
      h("span", { class: "row-title" }, `${ixn.SourceName} → ${ixn.DestinationName}`),
      h("span", { class: "muted", title: "precedence: higher is evaluated first" }, `precedence ${ixn.Precedence || precedence(ixn)}`),
      h("span", { class: "actions" },
        h("button", { type: "button", class: "small", "data-test": "ixn-edit", "data-key": `edit:${key}`, onclick: () => edit(ixn) }, "Edit"),
        h("button", { type: "button", class: "small danger", "data-test": "ixn-delete", onclick: () => remove(ixn) }, "Delete"))),
    ixn.Description ? h("div", { class: "row-detail muted" }, ixn.Description) : null,
    ixn.Permissions && ixn.Permissions.length ? h("div", { class: "row-detail" }, "L7 permissions (a plain connection counts as denied)") : null);
}

function renderTopology(el, { services, cells }, defaultPolicy) {
  if (services.length < 2) {
    el.replaceChildren(notice("info", "Register at least two services to see who may talk to whom."));
    return;
  }
  const head = h("tr", {}, h("th", { scope: "col" }, "source ↓ / destination →"), services.map((d) => h("th", { scope: "col" }, d)));
  const rows = services.map((s) => h("tr", {}, h("th", { scope: "row" }, s), services.map((d) => {
    if (s === d) return h("td", { class: "self" }, "—");
    const c = cells[s][d];
    const why = c.by ? label(c.by) : `no intention: default ${defaultPolicy}`;
    return h("td", { class: c.allowed ? "allowed" : "denied", title: why, "data-src": s, "data-dst": d, "data-allowed": String(c.allowed), "data-default": String(!c.by) },
      h("span", { "aria-label": `${s} to ${d}: ${c.allowed ? "allowed" : "denied"} (${why})` }, c.allowed ? "✓" : "✕"));
  })));
  el.replaceChildren(h("table", { class: "topology" }, h("thead", {}, head), h("tbody", {}, rows)),
    h("p", { class: "muted" }, `Cells without an intention follow the default: ${defaultPolicy} (the agent's ACL default policy).`));
}

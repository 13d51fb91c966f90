// ACL policies: the list, one policy's rules (edit and save; Consul's parse error is shown as
// it words it, with the line), create, delete with confirmation.
import { confirmDialog, h, notice, replaceKeepFocus } from "../dom.js";
import { matchesSearch } from "../health.js";
import { aclTabs, field, formError } from "./acl_common.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

export function mountList(root, ctx) {
  ctx.setTitle("Policies");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "policies" });
  const err = errorSlot();
  let policies = null;
  const render = () => {
    if (!policies) return;
    const shown = policies.filter((p) => matchesSearch(ctx.route.query.search, p.Name, p.Description));
    count.textContent = plural(policies.length, "policy", "policies");
    replaceKeepFocus(list, shown.length ? shown.map((p) => h("li", { class: "row", "data-policy": p.Name },
      h("div", { class: "row-main" }, h("a", { class: "row-title", "data-key": `policy:${p.ID}`,
        href: ctx.router.href({ name: "acl-policies-one", dc: ctx.route.dc, id: p.ID }) }, p.Name)),
      h("div", { class: "row-detail" }, h("span", { class: "muted" }, p.Description || ""),
        p.Datacenters && p.Datacenters.length ? h("span", {}, `only in ${p.Datacenters.join(", ")}`) : null)))
      : emptyRow("No policies match."));
  };
  const create = h("a", { class: "button primary", href: ctx.router.href({ name: "acl-policies-create", dc: ctx.route.dc }), "data-test": "policy-create" }, "Create");
  root.append(aclTabs(ctx, "policies"), pageHeader("Policies", count, h("div", { class: "actions" }, create)),
    listToolbar(ctx, { placeholder: "Search by name or description", statuses: false, onChange: render }), err.el, list);
  ctx.api.watch("acl/policies", {}, {
    signal: ctx.signal,
    onData: (data) => { err.clear(); policies = data || []; render(); },
    onError: (e) => { policies = null; list.replaceChildren(); err.show(e); },
  });
}

function policyForm(ctx, p, { onSave, extra = null }) {
  const name = h("input", { type: "text", name: "name", required: true, value: p.Name || "", "data-test": "policy-name" });
  const description = h("input", { type: "text", name: "description", value: p.Description || "", "data-test": "policy-description" });
  const rules = h("textarea", { name: "rules", rows: 12, spellcheck: false, "data-test": "policy-rules",
    placeholder: 'key_prefix "app/" {\n  policy = "read"\n}' });
  rules.value = p.Rules || "";
  const err = errorSlot();
  const banner = h("div", { "aria-live": "polite", "data-test": "policy-banner" });
  const form = h("form", { class: "edit-form", "data-test": "policy-form" },
    field("Name", name), field("Description", description), field("Rules (HCL or JSON)", rules), err.el, banner,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-test": "policy-save" }, p.ID ? "Save" : "Create policy"), extra));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.clear();
    banner.replaceChildren();
    try {
      await onSave({ Name: name.value.trim(), Description: description.value, Rules: rules.value });
      banner.replaceChildren(notice("info", "Saved."));
    } catch (ex) { err.show({ message: formError(ex) }); }
  });
  return form;
}

export function mountOne(root, ctx) {
  const id = ctx.route.id;
  ctx.setTitle("Policy");
  const err = errorSlot();
  const slot = h("div");
  const back = h("a", { href: ctx.router.href({ name: "acl-policies", dc: ctx.route.dc }), class: "crumb" }, "← All policies");
  const title = pageHeader("Policy");
  root.append(aclTabs(ctx, "policies"), back, title, err.el, slot);
  const path = `acl/policy/${encodeURIComponent(id)}`;
  (async () => {
    let p;
    try { p = await ctx.api.get(path, {}, { notFoundIsNull: true }); } catch (e) { err.show(e); return; }
    if (!p) { err.show({ message: `No policy with ID ${id}.` }); return; }
    title.querySelector("h1").textContent = p.Name;
    ctx.setTitle(p.Name);
    const del = h("button", { type: "button", class: "danger", "data-test": "policy-delete", onclick: async () => {
      if (!(await confirmDialog(`Delete policy ${p.Name}?`, "Tokens and roles linked to it lose its rules. This cannot be undone.", "Delete policy"))) return;
      try {
        await ctx.api.del(path);
        ctx.router.go(ctx.router.href({ name: "acl-policies", dc: ctx.route.dc }));
      } catch (e) { err.show({ message: formError(e) }); }
    } }, "Delete");
    slot.replaceChildren(policyForm(ctx, p, {
      extra: del,
      onSave: async (fields) => {
        const saved = await ctx.api.putJSON(path, { ID: p.ID, ...fields, Datacenters: p.Datacenters });
        title.querySelector("h1").textContent = saved.Name;
      },
    }));
  })();
}

export function mountCreate(root, ctx) {
  ctx.setTitle("New policy");
  root.append(aclTabs(ctx, "policies"), pageHeader("New policy"), policyForm(ctx, {}, {
    onSave: async (fields) => {
      const p = await ctx.api.putJSON("acl/policy", fields);
      ctx.router.go(ctx.router.href({ name: "acl-policies-one", dc: ctx.route.dc, id: p.ID }));
    },
  }));
}

// ACL roles (/v1/acl/roles, Consul's documented JSON): list, one role with its policies and
// service identities, create, delete. An agent that does not serve roles answers 404, shown
// as "not available" instead of an error.
import { confirmDialog, h, notice, replaceKeepFocus } from "../dom.js";
import { aclTabs, facts, field, formError, linkList, picker } from "./acl_common.js";
import { emptyRow, errorSlot, pageHeader, plural } from "./common.js";

function unavailable() {
  return notice("info", h("span", { "data-test": "roles-unavailable" }, "Roles are not available on this agent (it answers 404 for /v1/acl/roles)."));
}

export function mountList(root, ctx) {
  ctx.setTitle("Roles");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "roles" });
  const err = errorSlot();
  const create = h("a", { class: "button primary", href: ctx.router.href({ name: "acl-roles-create", dc: ctx.route.dc }), "data-test": "role-create" }, "Create");
  root.append(aclTabs(ctx, "roles"), pageHeader("Roles", count, h("div", { class: "actions" }, create)), err.el, list);
  ctx.api.watch("acl/roles", {}, {
    signal: ctx.signal, notFoundIsNull: true,
    onData: (data) => {
      err.clear();
      if (data === null) { create.hidden = true; count.textContent = ""; list.replaceChildren(unavailable()); return; }
      create.hidden = false;
      count.textContent = plural(data.length, "role");
      replaceKeepFocus(list, data.length ? data.map((r) => h("li", { class: "row", "data-role": r.Name },
        h("div", { class: "row-main" }, h("a", { class: "row-title", "data-key": `role:${r.ID}`,
          href: ctx.router.href({ name: "acl-roles-one", dc: ctx.route.dc, id: r.ID }) }, r.Name)),
        h("div", { class: "row-detail" }, h("span", { class: "muted" }, r.Description || ""),
          h("span", {}, (r.Policies || []).map((p) => p.Name).join(", ") || "no policies"))))
        : emptyRow("No roles yet."));
    },
    onError: (e) => { list.replaceChildren(); err.show(e); },
  });
}

export function mountOne(root, ctx) {
  const id = ctx.route.id;
  ctx.setTitle("Role");
  const err = errorSlot();
  const body = h("div", { "data-test": "role" });
  const title = pageHeader("Role");
  const path = `acl/role/${encodeURIComponent(id)}`;
  const del = h("button", { type: "button", class: "danger", "data-test": "role-delete", onclick: async () => {
    if (!(await confirmDialog("Delete this role?", "Tokens linked to it lose its policies. This cannot be undone.", "Delete role"))) return;
    try {
      await ctx.api.del(path);
      ctx.router.go(ctx.router.href({ name: "acl-roles", dc: ctx.route.dc }));
    } catch (e) { err.show({ message: formError(e) }); }
  } }, "Delete");
  title.append(h("div", { class: "actions" }, del));
  root.append(aclTabs(ctx, "roles"), h("a", { href: ctx.router.href({ name: "acl-roles", dc: ctx.route.dc }), class: "crumb" }, "← All roles"), title, err.el, body);
  ctx.api.watch(path, {}, {
    signal: ctx.signal, notFoundIsNull: true,
    onData: (r) => {
      err.clear();
      if (!r) { body.replaceChildren(unavailable()); return; }
      title.querySelector("h1").textContent = r.Name;
      body.replaceChildren(facts([
        ["ID", h("code", {}, r.ID)],
        ["Description", r.Description],
        ["Policies", linkList(ctx, "policies", r.Policies)],
        ["Service identities", (r.ServiceIdentities || []).map((s) => s.ServiceName + (s.Datacenters && s.Datacenters.length ? ` (${s.Datacenters.join(", ")})` : "")).join(", ")],
        ["Node identities", (r.NodeIdentities || []).map((n) => `${n.NodeName} (${n.Datacenter})`).join(", ")],
      ]));
    },
    onError: (e) => { body.replaceChildren(); err.show(e); },
  });
}

export function mountCreate(root, ctx) {
  ctx.setTitle("New role");
  const err = errorSlot();
  const name = h("input", { type: "text", name: "name", required: true, "data-test": "role-name" });
  const description = h("input", { type: "text", name: "description", "data-test": "role-description" });
  const pickers = h("div", { class: "pickers" });
  let policies = picker("policy", []);
  const form = h("form", { class: "edit-form", "data-test": "role-form" }, field("Name", name), field("Description", description), pickers,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-test": "role-save" }, "Create role")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.clear();
    try {
      const r = await ctx.api.putJSON("acl/role", { Name: name.value.trim(), Description: description.value, Policies: policies.picked() });
      ctx.router.go(ctx.router.href({ name: "acl-roles-one", dc: ctx.route.dc, id: r.ID }));
    } catch (ex) { err.show({ message: ex.status === 404 ? "Roles are not available on this agent." : formError(ex) }); }
  });
  root.append(aclTabs(ctx, "roles"), pageHeader("New role"), err.el, form);
  (async () => {
    try { policies = picker("policy", (await ctx.api.get("acl/policies")) || []); } catch (e) { err.show(e); }
    pickers.replaceChildren(policies.el);
  })();
}

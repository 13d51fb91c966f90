// ACL tokens: the list (SecretIDs arrive as <hidden> without acl:write), one token with its
// policies and roles, create with policy/role links, delete with confirmation.
import { confirmDialog, h, replaceKeepFocus } from "../dom.js";
import { matchesSearch } from "../health.js";
import { aclTabs, facts, field, formError, linkList, picker } from "./acl_common.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

export function mountList(root, ctx) {
  ctx.setTitle("Tokens");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "tokens" });
  const err = errorSlot();
  let tokens = null;
  const render = () => {
    if (!tokens) return;
    const shown = tokens.filter((t) => matchesSearch(ctx.route.query.search, t.AccessorID, t.Description, (t.Policies || []).map((p) => p.Name)));
    count.textContent = plural(tokens.length, "token");
    replaceKeepFocus(list, shown.length ? shown.map((t) => tokenRow(ctx, t)) : emptyRow("No tokens match."));
  };
  const create = h("a", { class: "button primary", href: ctx.router.href({ name: "acl-tokens-create", dc: ctx.route.dc }), "data-test": "token-create" }, "Create");
  root.append(aclTabs(ctx, "tokens"), pageHeader("Tokens", count, h("div", { class: "actions" }, create)),
    listToolbar(ctx, { placeholder: "Search by accessor, description or policy", statuses: false, onChange: render }), err.el, list);
  ctx.api.watch("acl/tokens", {}, {
    signal: ctx.signal,
    onData: (data) => { err.clear(); tokens = data || []; render(); },
    onError: (e) => { tokens = null; list.replaceChildren(); err.show(e); },
  });
}

function tokenRow(ctx, t) {
  const href = ctx.router.href({ name: "acl-tokens-one", dc: ctx.route.dc, id: t.AccessorID });
  return h("li", { class: "row", "data-token": t.AccessorID },
    h("div", { class: "row-main" },
      h("a", { href, class: "row-title", "data-key": `token:${t.AccessorID}` }, t.Description || t.AccessorID),
      t.Local ? h("span", { class: "badge status-none" }, "local") : null),
    h("div", { class: "row-detail" }, h("code", { class: "muted" }, t.AccessorID),
      h("span", {}, (t.Policies || []).map((p) => p.Name).join(", ") || "no policies")));
}

export function mountOne(root, ctx) {
  const id = ctx.route.id;
  ctx.setTitle(`Token ${id.slice(0, 8)}`);
  const err = errorSlot();
  const body = h("div", { "data-test": "token" });
  const del = h("button", { type: "button", class: "danger", "data-test": "token-delete", onclick: async () => {
    if (!(await confirmDialog("Delete this token?", `Requests made with token ${id} will be refused. This cannot be undone.`, "Delete token"))) return;
    try {
      await ctx.api.del(`acl/token/${encodeURIComponent(id)}`);
      ctx.router.go(ctx.router.href({ name: "acl-tokens", dc: ctx.route.dc }));
    } catch (e) { err.show({ message: formError(e) }); }
  } }, "Delete");
  const back = h("a", { href: ctx.router.href({ name: "acl-tokens", dc: ctx.route.dc }), class: "crumb" }, "← All tokens");
  root.append(aclTabs(ctx, "tokens"), back, pageHeader("Token", h("div", { class: "actions" }, del)), err.el, body);
  ctx.api.watch(`acl/token/${encodeURIComponent(id)}`, {}, {
    signal: ctx.signal,
    onData: (t) => {
      err.clear();
      body.replaceChildren(facts([
        ["AccessorID", h("code", { "data-test": "token-accessor" }, t.AccessorID)],
        ["SecretID", t.SecretID === "<hidden>" ? h("span", { class: "muted" }, "hidden (needs acl:write)")
          : h("details", {}, h("summary", {}, "Show"), h("code", { "data-test": "token-secret" }, t.SecretID))],
        ["Description", t.Description],
        ["Policies", linkList(ctx, "policies", t.Policies)],
        ["Roles", linkList(ctx, "roles", t.Roles)],
        ["Service identities", (t.ServiceIdentities || []).map((s) => s.ServiceName).join(", ")],
        ["Node identities", (t.NodeIdentities || []).map((n) => `${n.NodeName} (${n.Datacenter})`).join(", ")],
        ["Scope", t.Local ? "local to this datacenter" : "global"],
        ["Expires", t.ExpirationTime],
        ["Created", t.CreateTime],
      ]));
    },
    onError: (e) => { body.replaceChildren(); err.show(e); },
  });
}

export function mountCreate(root, ctx) {
  ctx.setTitle("New token");
  const err = errorSlot();
  const description = h("input", { type: "text", name: "description", "data-test": "token-description" });
  const local = h("input", { type: "checkbox", name: "local", "data-test": "token-local" });
  const pickers = h("div", { class: "pickers" });
  let policies = picker("policy", []);
  let roles = picker("role", []);
  const form = h("form", { class: "edit-form", "data-test": "token-form" },
    field("Description", description), pickers,
    h("label", { class: "pick" }, local, " Local to this datacenter (not replicated)"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-test": "token-save" }, "Create token")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.clear();
    try {
      const body = { Description: description.value, Policies: policies.picked(), Local: local.checked };
      const picked = roles.picked();
      if (picked.length) body.Roles = picked;
      const t = await ctx.api.putJSON("acl/token", body);
      ctx.router.go(ctx.router.href({ name: "acl-tokens-one", dc: ctx.route.dc, id: t.AccessorID }));
    } catch (ex) { err.show({ message: formError(ex) }); }
  });
  root.append(aclTabs(ctx, "tokens"), pageHeader("New token"), err.el, form);
  (async () => {
    try { policies = picker("policy", (await ctx.api.get("acl/policies")) || []); } catch (e) { err.show(e); }
    try { roles = picker("role", (await ctx.api.get("acl/roles", {}, { notFoundIsNull: true })) || []); } catch { /* roles not served */ }
    pickers.replaceChildren(policies.el, roles.el);
  })();
}

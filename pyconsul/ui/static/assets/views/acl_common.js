// Pieces the Access Controls views share: the Tokens / Policies / Roles tabs, a form's error
// (Consul's own text, e.g. "Failed to parse ACL rules …"), and policy/role pickers.
import { h } from "../dom.js";

export function aclTabs(ctx, current) {
  return h("nav", { class: "tabs", "aria-label": "Access Controls" }, h("ul", {},
    [["tokens", "Tokens"], ["policies", "Policies"], ["roles", "Roles"]].map(([kind, label]) =>
      h("li", {}, h("a", { href: ctx.router.href({ name: `acl-${kind}`, dc: ctx.route.dc }),
        "aria-current": kind === current ? "page" : false, "data-tab": kind }, label)))));
}

// A 4xx from a write says what Consul found wrong; show that text itself, not a status line.
export function formError(err) {
  if (err && err.status >= 400 && err.status < 500 && err.status !== 403 && err.body) return err.body.trim();
  return err && err.message ? err.message : String(err);
}

export function linkList(ctx, kind, links) {
  if (!links || !links.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "tags", "data-test": `${kind}-links` }, links.map((l) =>
    h("li", { class: "tag" }, h("a", { href: ctx.router.href({ name: `acl-${kind}-one`, dc: ctx.route.dc, id: l.ID }) }, l.Name || l.ID))));
}

// Checkboxes for linking policies or roles; `picked()` gives the [{ID}] links Consul takes.
export function picker(name, rows, chosen = []) {
  const ids = new Set(chosen.map((c) => c.ID));
  const boxes = rows.map((r) => h("label", { class: "pick" },
    h("input", { type: "checkbox", name, value: r.ID, checked: ids.has(r.ID), "data-test": `pick-${name}`, "data-name": r.Name }), " ", r.Name));
  const el = h("fieldset", { class: "picker" }, h("legend", {}, name === "policy" ? "Policies" : "Roles"),
    boxes.length ? boxes : h("span", { class: "muted" }, `No ${name === "policy" ? "policies" : "roles"} yet.`));
  return { el, picked: () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => ({ ID: i.value })) };
}

export function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

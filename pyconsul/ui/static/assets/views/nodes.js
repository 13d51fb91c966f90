// Nodes: each node's health (all its checks), address and the services it runs.
import { h, replaceKeepFocus, statusBadge } from "../dom.js";
import { counts, matchesSearch, statusMatches, worst } from "../health.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

export function mount(root, ctx) {
  ctx.setTitle("Nodes");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "nodes" });
  const err = errorSlot();
  let nodes = null;
  let leader = "";
  const render = () => {
    if (!nodes) return;
    const { search, status } = ctx.route.query;
    const shown = nodes.filter((n) => statusMatches(status, worst(n.Checks)) &&
      matchesSearch(search, n.Node, n.Address, n.Services.map((s) => s.Service)));
    count.textContent = shown.length === nodes.length ? plural(nodes.length, "node") : `${shown.length} of ${nodes.length} nodes`;
    replaceKeepFocus(list, shown.length ? shown.map((n) => row(ctx, n, leader)) : emptyRow("No nodes match."));
  };
  root.append(pageHeader("Nodes", count), listToolbar(ctx, { placeholder: "Search by name, address or service", onChange: render }), err.el, list);
  ctx.api.watch("internal/ui/nodes", {}, {
    signal: ctx.signal,
    onData: async (data) => {
      err.clear();
      nodes = data || [];
      try { leader = (await ctx.api.get("status/leader")) || ""; } catch { leader = ""; }
      render();
    },
    onError: (e) => err.show(e),
  });
}

function isLeader(n, leader) {
  const consul = n.Services.find((s) => s.Service === "consul");
  return Boolean(leader && consul && leader === `${n.Address}:${consul.Port}`);
}

function row(ctx, n, leader) {
  const status = worst(n.Checks);
  const c = counts(n.Checks);
  const names = [...new Set(n.Services.map((s) => s.Service))].sort();
  return h("li", { class: `row status-row-${status}`, "data-node": n.Node, "data-status": status },
    h("div", { class: "row-main" },
      statusBadge(status),
      h("a", { href: ctx.router.href({ name: "node", dc: ctx.route.dc, node: n.Node }), class: "row-title", "data-key": `node:${n.Node}` }, n.Node),
      isLeader(n, leader) ? h("span", { class: "chip leader", title: "Raft leader" }, "★ leader") : null),
    h("div", { class: "row-detail" },
      h("span", { class: "addr" }, n.Address),
      h("span", {}, plural(n.Services.length, "service instance")),
      h("span", { class: "check-counts" },
        h("span", { class: "c-passing" }, `✓ ${c.passing}`), h("span", { class: "c-warning" }, `! ${c.warning}`),
        h("span", { class: "c-critical" }, `✕ ${c.critical}`))),
    names.length ? h("ul", { class: "tags", "aria-label": "services" }, names.map((s) =>
      h("li", {}, h("a", { class: "tag link", href: ctx.router.href({ name: "service", dc: ctx.route.dc, service: s }) }, s)))) : null);
}

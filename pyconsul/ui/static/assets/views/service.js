// A service: every instance with node, address, port, tags, meta and all of its checks.
import { h, metaList, notice, replaceKeepFocus, statusBadge, tagList } from "../dom.js";
import { counts, matchesSearch, statusMatches, worst } from "../health.js";
import { checkList } from "./checks.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

export function mount(root, ctx) {
  const name = ctx.route.service;
  ctx.setTitle(name);
  const summary = h("span", { class: "count" });
  const list = h("ul", { class: "instances", "data-test": "instances" });
  const err = errorSlot();
  let instances = null;
  const render = () => {
    if (!instances) return;
    if (!instances.length) {
      summary.textContent = "";
      replaceKeepFocus(list, notice("info", `No instances of ${name} are registered.`));
      return;
    }
    const { search, status } = ctx.route.query;
    const c = counts(instances.flatMap((i) => i.Checks));
    summary.textContent = `${plural(instances.length, "instance")} · ✓ ${c.passing} ! ${c.warning} ✕ ${c.critical}`;
    const shown = instances.filter((i) => statusMatches(status, worst(i.Checks)) &&
      matchesSearch(search, i.Service.ID, i.Node.Node, i.Service.Address, i.Node.Address, i.Service.Tags, String(i.Service.Port)));
    replaceKeepFocus(list, shown.length ? shown.map((i) => instance(ctx, i)) : emptyRow("No instances match."));
  };
  const back = h("a", { href: ctx.router.href({ name: "services", dc: ctx.route.dc }), class: "crumb" }, "← All services");
  root.append(back, pageHeader(name, summary),
    listToolbar(ctx, { placeholder: "Search by ID, node, address or tag", onChange: render }), err.el, list);
  ctx.api.watch(`health/service/${encodeURIComponent(name)}`, {}, {
    signal: ctx.signal,
    onData: (data) => { err.clear(); instances = data || []; render(); },
    onError: (e) => err.show(e),
  });
}

function instance(ctx, inst) {
  const svc = inst.Service;
  const node = inst.Node;
  const status = worst(inst.Checks);
  const address = svc.Address || node.Address;
  return h("li", { class: `card status-row-${status}`, "data-instance": svc.ID, "data-status": status },
    h("div", { class: "card-head" },
      statusBadge(status),
      h("h2", { class: "card-title" }, svc.ID),
      h("span", { class: "addr" }, svc.Port ? `${address}:${svc.Port}` : address)),
    h("dl", { class: "facts" },
      h("dt", {}, "Node"),
      h("dd", {}, h("a", { href: ctx.router.href({ name: "node", dc: ctx.route.dc, node: node.Node }), "data-key": `node:${svc.ID}` }, node.Node),
        " ", h("span", { class: "muted" }, node.Address)),
      svc.Kind ? [h("dt", {}, "Kind"), h("dd", {}, svc.Kind)] : null),
    tagList(svc.Tags),
    metaList(svc.Meta),
    h("h3", { class: "sub" }, `Checks (${inst.Checks.length})`),
    checkList(inst.Checks));
}

// A node: its checks (with output), its service instances, its lock sessions and its metadata.
import { confirmDialog, h, metaList, notice, replaceKeepFocus, statusBadge, tagList } from "../dom.js";
import { worst } from "../health.js";
import { checkList } from "./checks.js";
import { errorSlot, pageHeader } from "./common.js";

export function mount(root, ctx) {
  const name = ctx.route.node;
  ctx.setTitle(name);
  const head = h("span", { class: "count" });
  const checks = h("section", { "aria-labelledby": "sec-checks" });
  const services = h("section", { "aria-labelledby": "sec-services" });
  const sessions = h("section", { "aria-labelledby": "sec-sessions" });
  const meta = h("section", { "aria-labelledby": "sec-meta" });
  const err = errorSlot();
  const back = h("a", { href: ctx.router.href({ name: "nodes", dc: ctx.route.dc }), class: "crumb" }, "← All nodes");
  root.append(back, pageHeader(name, head), err.el, h("div", { class: "node-grid" }, services, checks, sessions, meta));
  ctx.api.watch(`internal/ui/node/${encodeURIComponent(name)}`, {}, {
    signal: ctx.signal,
    notFoundIsNull: true,
    onData: (n) => {
      err.clear();
      if (!n) {
        head.replaceChildren();
        replaceKeepFocus(services, notice("info", `There is no node named ${name} in ${ctx.route.dc}.`));
        checks.replaceChildren(); meta.replaceChildren();
        return;
      }
      head.replaceChildren(statusBadge(worst(n.Checks)), " ", h("span", { class: "addr" }, n.Address));
      replaceKeepFocus(services, h("h2", { id: "sec-services" }, `Service instances (${n.Services.length})`), serviceTable(ctx, n));
      replaceKeepFocus(checks, h("h2", { id: "sec-checks" }, `Health checks (${n.Checks.length})`), checkList(n.Checks, { showService: true }));
      replaceKeepFocus(meta, h("h2", { id: "sec-meta" }, "Metadata"),
        metaList({ ID: n.ID, Datacenter: n.Datacenter, ...Object.fromEntries(Object.entries(n.TaggedAddresses || {}).map(([k, v]) => [`address (${k})`, v])), ...n.Meta }));
    },
    onError: (e) => err.show(e),
  });
  ctx.api.watch(`session/node/${encodeURIComponent(name)}`, {}, {
    signal: ctx.signal,
    onData: (list) => replaceKeepFocus(sessions, h("h2", { id: "sec-sessions" }, `Lock sessions (${(list || []).length})`), sessionTable(ctx, list || [], err)),
    onError: (e) => err.show(e),
  });
}

function serviceTable(ctx, n) {
  if (!n.Services.length) return h("p", { class: "empty" }, "No services on this node.");
  return h("div", { class: "table-wrap" }, h("table", { "data-test": "node-services" },
    h("thead", {}, h("tr", {}, ["Service", "ID", "Address", "Tags"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, n.Services.map((s) => h("tr", { "data-service-id": s.ID },
      h("td", {}, h("a", { href: ctx.router.href({ name: "service", dc: ctx.route.dc, service: s.Service }), "data-key": `svc:${s.ID}` }, s.Service)),
      h("td", {}, s.ID),
      h("td", { class: "addr" }, `${s.Address || n.Address}${s.Port ? ":" + s.Port : ""}`),
      h("td", {}, tagList(s.Tags)))))));
}

function sessionTable(ctx, list, err) {
  if (!list.length) return h("p", { class: "empty" }, "No lock sessions on this node.");
  return h("div", { class: "table-wrap" }, h("table", { "data-test": "sessions" },
    h("thead", {}, h("tr", {}, ["Name / ID", "Behavior", "TTL", "Lock delay", "Checks", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((s) => h("tr", { "data-session": s.ID },
      h("td", {}, s.Name ? h("div", {}, s.Name) : null, h("code", { class: "muted" }, s.ID)),
      h("td", {}, s.Behavior),
      h("td", {}, s.TTL || "–"),
      h("td", {}, `${(s.LockDelay || 0) / 1e9}s`),
      h("td", {}, (s.NodeChecks || s.Checks || []).join(", ") || "–"),
      h("td", {}, h("button", {
        type: "button", class: "danger small", "data-key": `sess:${s.ID}`,
        onclick: async () => {
          if (!(await confirmDialog("Invalidate session?", `Session ${s.Name || s.ID} will be destroyed and its locks released (${s.Behavior}).`, "Invalidate"))) return;
          try { await ctx.api.put(`session/destroy/${encodeURIComponent(s.ID)}`); } catch (e) { err.show(e); }
        },
      }, "Invalidate")))))));
}


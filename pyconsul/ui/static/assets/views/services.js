// Services: one row per service with its health summary, instance and node counts and tags.
import { h, replaceKeepFocus, statusBadge, tagList } from "../dom.js";
import { matchesSearch, statusMatches, summaryStatus } from "../health.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

export function mount(root, ctx) {
  ctx.setTitle("Services");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows", "data-test": "services" });
  const err = errorSlot();
  let services = null;
  const render = () => {
    if (!services) return;
    const { search, status } = ctx.route.query;
    const shown = services.filter((s) => statusMatches(status, summaryStatus(s)) && matchesSearch(search, s.Name, s.Tags));
    count.textContent = shown.length === services.length ? plural(services.length, "service") : `${shown.length} of ${services.length} services`;
    replaceKeepFocus(list, shown.length ? shown.map((s) => row(ctx, s)) : emptyRow("No services match."));
  };
  root.append(pageHeader("Services", count), listToolbar(ctx, { placeholder: "Search by name or tag", onChange: render }), err.el, list);
  ctx.api.watch("internal/ui/services", {}, {
    signal: ctx.signal,
    onData: (data) => { err.clear(); services = data || []; render(); },
    onError: (e) => err.show(e),
  });
}

function row(ctx, s) {
  const status = summaryStatus(s);
  const href = ctx.router.href({ name: "service", dc: ctx.route.dc, service: s.Name });
  return h("li", { class: `row status-row-${status}`, "data-service": s.Name, "data-status": status },
    h("div", { class: "row-main" },
      statusBadge(status),
      h("a", { href, class: "row-title", "data-key": `svc:${s.Name}` }, s.Name)),
    h("div", { class: "row-detail" },
      h("span", {}, plural(s.InstanceCount, "instance")),
      h("span", {}, plural(s.Nodes.length, "node")),
      checkCounts(s),
      s.ExternalSources ? h("span", { class: "muted" }, `from ${s.ExternalSources.join(", ")}`) : null),
    tagList(s.Tags));
}

export function checkCounts(s) {
  return h("span", { class: "check-counts", "aria-label": "checks by status" },
    h("span", { class: "c-passing", title: "passing checks" }, `✓ ${s.ChecksPassing}`),
    h("span", { class: "c-warning", title: "warning checks" }, `! ${s.ChecksWarning}`),
    h("span", { class: "c-critical", title: "critical checks" }, `✕ ${s.ChecksCritical}`));
}

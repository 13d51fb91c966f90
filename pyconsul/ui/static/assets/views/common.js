// Pieces every view uses: the page heading, the search/status toolbar and the error slot.
import { h, notice } from "../dom.js";

export function pageHeader(title, ...extra) {
  // tabindex -1: focus moves here after navigation so keyboard and screen-reader users start
  // at the new view, not at a link that no longer exists.
  return h("header", { class: "page-header" },
    h("h1", { tabindex: "-1", "data-focus": "heading" }, title), ...extra);
}

// A search box and status filter whose values live in the URL (?search=…&status=…).
export function listToolbar(ctx, { placeholder, statuses = true, onChange }) {
  const q = ctx.route.query;
  const search = h("input", { type: "search", name: "search", value: q.search || "", placeholder,
    "aria-label": placeholder, autocomplete: "off", "data-test": "search" });
  const status = h("select", { name: "status", "aria-label": "Filter by health", "data-test": "status-filter" },
    [["", "All health"], ["passing", "Passing"], ["warning", "Warning"], ["critical", "Critical"]]
      .map(([v, label]) => h("option", { value: v, selected: (q.status || "") === v }, label)));
  const changed = () => {
    const query = { ...ctx.route.query, search: search.value, status: statuses ? status.value : "" };
    ctx.route.query = query;
    ctx.router.setQuery(query);
    onChange(query);
  };
  search.addEventListener("input", changed);
  status.addEventListener("change", changed);
  return h("div", { class: "toolbar", role: "search" }, search, statuses ? status : null);
}

export function errorSlot() {
  const el = h("div", { class: "error-slot", "aria-live": "polite" });
  return {
    el,
    show(err) { el.replaceChildren(notice("error", err.message || String(err))); },
    clear() { el.replaceChildren(); },
  };
}

export function emptyRow(text) {
  return h("p", { class: "empty" }, text);
}

export function plural(n, one, many = one + "s") {
  return `${n} ${n === 1 ? one : many}`;
}

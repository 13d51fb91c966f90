// A list of checks with status, name, type and output — the output is shown, not hidden behind
// a click, because it is usually the reason an operator is looking.
import { h, statusBadge } from "../dom.js";

export function checkList(checks, { showService = false } = {}) {
  if (!checks || !checks.length) return h("p", { class: "empty" }, "No checks.");
  return h("ul", { class: "checks" }, checks.map((c) =>
    h("li", { class: `check status-row-${c.Status}`, "data-check": c.CheckID, "data-status": c.Status },
      h("div", { class: "check-head" },
        statusBadge(c.Status),
        h("span", { class: "check-name" }, c.Name),
        h("span", { class: "muted" }, c.CheckID),
        c.Type ? h("span", { class: "chip" }, c.Type) : null,
        showService && c.ServiceName ? h("span", { class: "chip" }, c.ServiceName) : null,
        !c.ServiceID ? h("span", { class: "chip" }, "node check") : null),
      c.Notes ? h("p", { class: "muted" }, c.Notes) : null,
      c.Output ? h("pre", { class: "output", tabindex: "0", "aria-label": `output of ${c.Name}` }, c.Output) : null)));
}

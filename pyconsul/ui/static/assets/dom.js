// Building DOM without innerHTML: every string lands as text, so agent data can never be markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replace a container's children after a live update without losing the reader's place: the
// element that had focus is found again by its data-key and focused, and scroll stays put.
export function replaceKeepFocus(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  const scroll = window.scrollY;
  container.replaceChildren();
  append(container, children);
  if (key !== undefined) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  window.scrollTo({ top: scroll });
}

export const STATUS_LABEL = { passing: "passing", warning: "warning", critical: "critical", maintenance: "maintenance", none: "no checks" };
const STATUS_ICON = { passing: "✓", warning: "!", critical: "✕", maintenance: "⏸", none: "–" };

export function statusBadge(status) {
  const s = STATUS_ICON[status] ? status : "none";
  return h("span", { class: `badge status-${s}`, "data-status": s, title: STATUS_LABEL[s] },
    h("span", { "aria-hidden": "true" }, STATUS_ICON[s]), " ", STATUS_LABEL[s]);
}

export function tagList(tags) {
  if (!tags || !tags.length) return null;
  return h("ul", { class: "tags", "aria-label": "tags" }, tags.map((t) => h("li", { class: "tag" }, t)));
}

export function metaList(meta) {
  const keys = Object.keys(meta || {}).sort();
  if (!keys.length) return null;
  return h("dl", { class: "meta" }, keys.flatMap((k) => [h("dt", {}, k), h("dd", {}, meta[k])]));
}

export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

// A modal confirmation that answers a promise; Escape and Cancel both say no.
export function confirmDialog(title, body, confirmLabel) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: "danger", "data-test": "confirm" }, confirmLabel);
    const cancel = h("button", { type: "button", "data-test": "cancel" }, "Cancel");
    const dlg = h("dialog", { class: "confirm", "aria-labelledby": "dlg-title" },
      h("h2", { id: "dlg-title" }, title), h("p", {}, body), h("div", { class: "actions" }, cancel, ok));
    const done = (answer) => { dlg.close(); dlg.remove(); resolve(answer); };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

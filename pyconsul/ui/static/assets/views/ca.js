// Connect CA roots (/v1/connect/ca/roots, blocking): the trust domain, each root with its
// validity and key, the active one marked, and its PEM on demand.
import { h, notice, replaceKeepFocus } from "../dom.js";
import { facts } from "./acl_common.js";
import { errorSlot, pageHeader, plural } from "./common.js";

export function daysLeft(notAfter, now = Date.now()) {
  const t = Date.parse(notAfter);
  return Number.isNaN(t) ? null : Math.floor((t - now) / 86400000);
}

export function mount(root, ctx) {
  ctx.setTitle("Connect CA");
  const count = h("span", { class: "count" });
  const domain = h("p", { class: "muted", "data-test": "trust-domain" });
  const list = h("ul", { class: "instances", "data-test": "ca-roots" });
  const err = errorSlot();
  root.append(pageHeader("Connect CA roots", count), domain, err.el, list);
  ctx.api.watch("connect/ca/roots", {}, {
    signal: ctx.signal,
    onData: (data) => {
      err.clear();
      const roots = (data && data.Roots) || [];
      count.textContent = plural(roots.length, "root");
      domain.textContent = data && data.TrustDomain ? `Trust domain ${data.TrustDomain}` : "";
      replaceKeepFocus(list, roots.length ? roots.map((r) => rootCard(r, data.ActiveRootID)) : notice("info", "The CA has no roots yet."));
    },
    onError: (e) => { list.replaceChildren(); err.show(e); },
  });
}

function rootCard(r, activeId) {
  const active = r.Active || r.ID === activeId;
  const left = daysLeft(r.NotAfter);
  return h("li", { class: "card", "data-root": r.ID, "data-active": String(active) },
    h("div", { class: "card-head" },
      h("span", { class: `badge ${active ? "status-passing" : "status-none"}` }, active ? "active" : "inactive"),
      h("strong", {}, r.Name || r.ID)),
    facts([
      ["ID", h("code", {}, r.ID)],
      ["Serial", r.SerialNumber],
      ["Signing key ID", h("code", {}, r.SigningKeyID)],
      ["Valid", `${r.NotBefore} → ${r.NotAfter}${left !== null ? ` (${left} days left)` : ""}`],
      ["Key", r.PrivateKeyType ? `${r.PrivateKeyType} ${r.PrivateKeyBits}` : ""],
      ["Intermediates", (r.IntermediateCerts || []).length ? String(r.IntermediateCerts.length) : "none"],
    ]),
    h("details", {}, h("summary", {}, "Root certificate (PEM)"), h("pre", { class: "output", "data-test": "root-pem", tabindex: "0" }, r.RootCert || "")));
}

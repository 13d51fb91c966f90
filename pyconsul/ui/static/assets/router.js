// URLs ↔ routes. The URL says where you are: /ui/<dc>/services/<name>, /ui/<dc>/kv/<prefix>/,
// /ui/<dc>/kv/<key>/edit, with list filters in the query (?search=…&status=…). `parse` and
// `format` are pure; Router wires them to the History API so the back button works.

const enc = (s) => s.split("/").map(encodeURIComponent).join("/");

export function parse(pathname, search, base) {
  const query = Object.fromEntries(new URLSearchParams(search));
  if (!pathname.startsWith(base)) return { name: "notfound", dc: "", query };
  const rest = pathname.slice(base.length);
  const parts = rest.split("/");
  const dc = decodeURIComponent(parts[0] || "");
  const section = parts[1] || "";
  const tail = parts.slice(2).map(decodeURIComponent).join("/");
  if (!dc) return { name: "home", dc: "", query };
  switch (section) {
    case "":
    case "services":
      return tail ? { name: "service", dc, service: tail.replace(/\/$/, ""), query } : { name: "services", dc, query };
    case "nodes":
      return tail ? { name: "node", dc, node: tail.replace(/\/$/, ""), query } : { name: "nodes", dc, query };
    case "kv": {
      if (tail === "create" || tail.endsWith("/create")) return { name: "kv-create", dc, prefix: tail.slice(0, -"create".length), query };
      if (tail.endsWith("/edit")) return { name: "kv-key", dc, key: tail.slice(0, -"/edit".length), query };
      return { name: "kv-folder", dc, prefix: tail, query };
    }
    case "acls": {
      // acls/<kind>[/<id>|/create]: tokens, policies, roles
      const [first, ...idParts] = tail.replace(/\/$/, "").split("/");
      const kind = first || "tokens";
      if (!ACL_KINDS.includes(kind)) return { name: "feature", dc, feature: section, query };
      const id = idParts.join("/");
      if (!id) return { name: `acl-${kind}`, dc, query };
      if (id === "create") return { name: `acl-${kind}-create`, dc, query };
      return { name: `acl-${kind}-one`, dc, id, query };
    }
    case "intentions":
      return { name: "intentions", dc, query };
    case "ca":
      return { name: "ca", dc, query };
    default:
      return { name: "feature", dc, feature: section, query };
  }
}

export const ACL_KINDS = ["tokens", "policies", "roles"];

export function format(route, base) {
  const dc = encodeURIComponent(route.dc);
  let path;
  const acl = /^acl-(tokens|policies|roles)(-create|-one)?$/.exec(route.name);
  if (acl) {
    const rest = acl[2] === "-create" ? "/create" : acl[2] === "-one" ? `/${encodeURIComponent(route.id)}` : "";
    path = `${dc}/acls/${acl[1]}${rest}`;
  } else switch (route.name) {
    case "services": path = `${dc}/services`; break;
    case "service": path = `${dc}/services/${encodeURIComponent(route.service)}`; break;
    case "nodes": path = `${dc}/nodes`; break;
    case "node": path = `${dc}/nodes/${encodeURIComponent(route.node)}`; break;
    case "kv-folder": path = `${dc}/kv/${enc(route.prefix || "")}`; break;
    case "kv-key": path = `${dc}/kv/${enc(route.key)}/edit`; break;
    case "kv-create": path = `${dc}/kv/${enc(route.prefix || "")}create`; break;
    case "intentions": path = `${dc}/intentions`; break;
    case "ca": path = `${dc}/ca`; break;
    case "feature": path = `${dc}/${encodeURIComponent(route.feature)}`; break;
    default: path = "";
  }
  const q = new URLSearchParams(Object.entries(route.query || {}).filter(([, v]) => v)).toString();
  return base + path + (q ? "?" + q : "");
}

export class Router {
  constructor(base, onRoute) {
    this.base = base;
    this.onRoute = onRoute;
  }

  start() {
    window.addEventListener("popstate", () => this.emit());
    // Same-origin links under the UI move through history instead of reloading the page.
    document.addEventListener("click", (e) => {
      const a = e.target.closest && e.target.closest("a[href]");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      if (a.target || a.hasAttribute("download")) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !url.pathname.startsWith(this.base)) return;
      e.preventDefault();
      this.go(url.pathname + url.search);
    });
    this.emit();
  }

  current() {
    return parse(location.pathname, location.search, this.base);
  }

  go(url, { replace = false } = {}) {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    this.emit();
  }

  // A filter typed into a list changes the URL without a new history entry or a remount.
  setQuery(query) {
    const route = { ...this.current(), query };
    history.replaceState(null, "", format(route, this.base));
  }

  href(route) {
    return format(route, this.base);
  }

  emit() {
    this.onRoute(this.current());
  }
}

// Pure intention arithmetic (no DOM): Consul's precedence, its evaluation order, which intention
// decides a source → destination pair, and the who-may-talk-to-whom matrix the topology draws.

const WILD = "*";

// Without namespaces: exact → exact 9, * → exact 8, exact → * 6, * → * 5 (Consul's UpdatePrecedence).
export function precedence(ixn) {
  const max = ixn.DestinationName === WILD ? 6 : 9;
  return max - (ixn.SourceName === WILD ? 1 : 0);
}

function prec(ixn) {
  return typeof ixn.Precedence === "number" && ixn.Precedence > 0 ? ixn.Precedence : precedence(ixn);
}

// Consul's evaluation order: higher precedence first, ties by source then destination name.
export function sortIntentions(list) {
  return [...(list || [])].sort((a, b) => prec(b) - prec(a) ||
    cmp(a.SourceNS, b.SourceNS) || cmp(a.SourceName, b.SourceName) ||
    cmp(a.DestinationNS, b.DestinationNS) || cmp(a.DestinationName, b.DestinationName));
}

function cmp(a, b) {
  const x = a || "", y = b || "";
  return x < y ? -1 : x > y ? 1 : 0;
}

const matches = (pattern, name) => pattern === WILD || pattern === name;

// The intention that decides whether `source` may open connections to `destination`, or null
// when none matches (then the default applies: allow unless ACLs default to deny).
export function deciding(intentions, source, destination) {
  return sortIntentions(intentions).find((i) => matches(i.SourceName, source) && matches(i.DestinationName, destination)) || null;
}

// An intention with L7 permissions counts as deny for a plain connection, as in Consul's authorize.
export function allows(ixn) {
  return ixn.Action === "allow" && !(ixn.Permissions && ixn.Permissions.length);
}

// { services, cells } where cells[src][dst] = { allowed, by } (by: the deciding intention or null).
// Services: the catalog's names plus every exact name the intentions mention, sorted.
export function topology(intentions, serviceNames, defaultPolicy = "allow") {
  const names = new Set((serviceNames || []).filter((n) => n && n !== WILD));
  for (const i of intentions || []) {
    if (i.SourceName !== WILD) names.add(i.SourceName);
    if (i.DestinationName !== WILD) names.add(i.DestinationName);
  }
  const services = [...names].sort();
  const cells = {};
  for (const src of services) {
    cells[src] = {};
    for (const dst of services) {
      if (src === dst) continue;
      const by = deciding(intentions, src, dst);
      cells[src][dst] = { allowed: by ? allows(by) : defaultPolicy !== "deny", by };
    }
  }
  return { services, cells };
}

// Consul's own validation, checked before sending so the form says what is wrong at once.
export function validateIntention({ source, destination, action }) {
  for (const [label, v] of [["Source", source], ["Destination", destination]]) {
    if (!v) return `${label} service must be specified`;
    if (v.includes(WILD) && v !== WILD) return "wildcard character '*' cannot be used with partial values";
  }
  if (action !== "allow" && action !== "deny") return "Action must be set to 'allow' or 'deny'";
  return null;
}

// api.Intention.String(): "web => db (allow)".
export function label(ixn) {
  return `${ixn.SourceName} => ${ixn.DestinationName} (${ixn.Action})`;
}

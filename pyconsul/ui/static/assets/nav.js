// The main navigation. Optional views appear only when the agent reports their feature in the
// settings it puts into index.html (it reports one when its route table serves the view's API).

export const NAV = [
  { section: "services", label: "Services", route: "services" },
  { section: "nodes", label: "Nodes", route: "nodes" },
  { section: "kv", label: "Key/Value", route: "kv-folder" },
  { section: "intentions", label: "Intentions", route: "intentions", feature: "IntentionsEnabled" },
  { section: "acls", label: "Access Controls", route: "acl-tokens", feature: "ACLsEnabled" },
  { section: "ca", label: "Connect CA", route: "ca", feature: "ConnectCAEnabled" },
];

export function visibleNav(settings) {
  return NAV.filter((item) => !item.feature || settings[item.feature] === true);
}

export function sectionOf(route) {
  if (route.name.startsWith("kv")) return "kv";
  if (route.name.startsWith("acl-")) return "acls";
  if (route.name === "service" || route.name === "services") return "services";
  if (route.name === "node" || route.name === "nodes") return "nodes";
  if (route.name === "intentions" || route.name === "ca") return route.name;
  if (route.name === "feature") return route.feature;
  return "";
}

// The feature a route's view needs, or null: a deep link to a view the agent does not serve
// shows "not available" rather than a page of errors.
export function featureOf(route) {
  const item = NAV.find((n) => n.section === sectionOf(route));
  return item && item.feature ? item.feature : null;
}

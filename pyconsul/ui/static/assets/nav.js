// The main navigation. Optional views appear only when the agent reports their feature in the
// settings it puts into index.html; a later view adds itself here with its `feature` and module.

export const NAV = [
  { section: "services", label: "Services", route: "services" },
  { section: "nodes", label: "Nodes", route: "nodes" },
  { section: "kv", label: "Key/Value", route: "kv-folder" },
  // Extension point: these views are built by their own issues; until then the agent reports
  // the features as off and the entries stay hidden.
  { section: "intentions", label: "Intentions", route: "feature", feature: "IntentionsEnabled" },
  { section: "acls", label: "Access Controls", route: "feature", feature: "ACLsEnabled" },
  { section: "ca", label: "Connect CA", route: "feature", feature: "ConnectCAEnabled" },
];

export function visibleNav(settings) {
  return NAV.filter((item) => !item.feature || settings[item.feature] === true);
}

export function sectionOf(route) {
  if (route.name.startsWith("kv")) return "kv";
  if (route.name === "service" || route.name === "services") return "services";
  if (route.name === "node" || route.name === "nodes") return "nodes";
  if (route.name === "feature") return route.feature;
  return "";
}

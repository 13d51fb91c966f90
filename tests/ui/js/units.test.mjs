// Pure UI modules under node's test runner (run by tests/ui/test_js_units.py): intention
// precedence and the topology matrix, 403 wording, ACL/intentions/CA routes, CA validity.
import assert from "node:assert/strict";
import { test } from "node:test";

import { describe, lackedPermission } from "../../../pyconsul/ui/static/assets/api.js";
import { allows, deciding, label, precedence, sortIntentions, topology, validateIntention } from "../../../pyconsul/ui/static/assets/intention_rules.js";
import { featureOf, sectionOf, visibleNav } from "../../../pyconsul/ui/static/assets/nav.js";
import { format, parse } from "../../../pyconsul/ui/static/assets/router.js";
import { daysLeft } from "../../../pyconsul/ui/static/assets/views/ca.js";

const ixn = (SourceName, DestinationName, Action = "allow", extra = {}) => ({ SourceName, DestinationName, Action, SourceNS: "default", DestinationNS: "default", ...extra });

test("precedence follows Consul's table without namespaces", () => {
  assert.equal(precedence(ixn("web", "db")), 9);
  assert.equal(precedence(ixn("*", "db")), 8);
  assert.equal(precedence(ixn("web", "*")), 6);
  assert.equal(precedence(ixn("*", "*")), 5);
});

test("evaluation order: precedence, then source and destination names", () => {
  const sorted = sortIntentions([ixn("*", "*"), ixn("web", "*"), ixn("b", "db"), ixn("*", "db"), ixn("a", "db")]);
  assert.deepEqual(sorted.map(label), ["a => db (allow)", "b => db (allow)", "* => db (allow)", "web => * (allow)", "* => * (allow)"]);
});

test("the most specific intention decides; none falls to the default", () => {
  const list = [ixn("*", "db", "deny"), ixn("web", "db", "allow"), ixn("*", "*", "deny")];
  assert.equal(deciding(list, "web", "db").Action, "allow");
  assert.equal(deciding(list, "api", "db").Action, "deny");
  assert.equal(deciding([ixn("web", "db")], "api", "cache"), null);
  assert.equal(allows(ixn("web", "db", "allow", { Permissions: [{ Action: "allow" }] })), false); // L7 counts as deny
});

test("topology marks every pair, defaults included", () => {
  const { services, cells } = topology([ixn("web", "db"), ixn("*", "db", "deny")], ["db", "web", "api", "consul-extra"], "deny");
  assert.deepEqual(services, ["api", "consul-extra", "db", "web"]);
  assert.equal(cells.web.db.allowed, true);
  assert.equal(cells.api.db.allowed, false);
  assert.equal(cells.api.db.by.SourceName, "*");
  assert.deepEqual(cells.db.web, { allowed: false, by: null }); // default deny
  assert.equal(topology([], ["a", "b"], "allow").cells.a.b.allowed, true);
  assert.equal("db" in cells.db, false); // no self cell
  // Names only intentions mention still get a row and a column.
  assert.deepEqual(topology([ixn("legacy", "db")], [], "allow").services, ["db", "legacy"]);
});

test("intention validation uses Consul's words", () => {
  assert.equal(validateIntention({ source: "web", destination: "db", action: "allow" }), null);
  assert.equal(validateIntention({ source: "web*", destination: "db", action: "allow" }), "wildcard character '*' cannot be used with partial values");
  assert.equal(validateIntention({ source: "web", destination: "db", action: "maybe" }), "Action must be set to 'allow' or 'deny'");
  assert.equal(validateIntention({ source: "", destination: "db", action: "allow" }), "Source service must be specified");
});

test("a 403 names the permission it lacked", () => {
  const body = "Permission denied: token with AccessorID '00000000-0000-0000-0000-000000000002' lacks permission 'key:read' on \"secret/x\"";
  assert.deepEqual(lackedPermission(body), { permission: "key:read", on: "secret/x" });
  assert.equal(describe(403, body, "kv/secret/x"), 'You lack key:read on "secret/x"');
  assert.equal(describe(403, "Permission denied: provided token lacks permission 'acl:read'", "acl/tokens"), "You lack acl:read");
  assert.match(describe(403, "ACL not found", "acl/token/self"), /ACL not found/);
  assert.equal(describe(403, "Permission denied", "agent/self"), "You lack the permission for agent/self (Permission denied)");
  assert.equal(describe(500, "boom", "x"), "500: boom (x)");
});

test("ACL, intentions and CA routes round-trip through the URL", () => {
  for (const url of ["/ui/dc1/acls/tokens", "/ui/dc1/acls/tokens/create", "/ui/dc1/acls/policies/0f3e", "/ui/dc1/acls/roles",
    "/ui/dc1/acls/roles/ab%2Fcd", "/ui/dc1/intentions", "/ui/dc1/ca"]) {
    assert.equal(format(parse(url, "", "/ui/"), "/ui/"), url);
  }
  assert.equal(parse("/ui/dc1/acls/", "", "/ui/").name, "acl-tokens");
  assert.deepEqual(parse("/ui/dc2/acls/policies/p1", "", "/ui/"), { name: "acl-policies-one", dc: "dc2", id: "p1", query: {} });
  assert.equal(format({ name: "intentions", dc: "dc1", query: { source: "web", destination: "db" } }, "/ui/"), "/ui/dc1/intentions?source=web&destination=db");
  assert.equal(parse("/ui/dc1/acls/bogus", "", "/ui/").name, "feature");
});

test("the nav and the views gate on the same feature flags", () => {
  assert.deepEqual(visibleNav({ ACLsEnabled: true }).map((n) => n.section), ["services", "nodes", "kv", "acls"]);
  assert.deepEqual(visibleNav({ IntentionsEnabled: true, ConnectCAEnabled: true }).map((n) => n.section), ["services", "nodes", "kv", "intentions", "ca"]);
  assert.equal(featureOf({ name: "acl-policies-one" }), "ACLsEnabled");
  assert.equal(featureOf({ name: "intentions" }), "IntentionsEnabled");
  assert.equal(featureOf({ name: "ca" }), "ConnectCAEnabled");
  assert.equal(featureOf({ name: "services" }), null);
  assert.equal(sectionOf({ name: "acl-tokens-create" }), "acls");
});

test("CA validity in whole days", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(daysLeft("2026-01-11T12:00:00Z", now), 10);
  assert.equal(daysLeft("not a time", now), null);
});

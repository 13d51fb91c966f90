// Catalog through the npm client: register an external node with a service and a check, read it
// back through every list call, then deregister the service and the node.
// Usage: node catalog.js HOST:PORT NODE SERVICE
"use strict";
const { attempt, run } = require("./lib");

run(async (consul, [node, service]) => {
  const r = {};
  r.datacenters = await consul.catalog.datacenters();
  r.register = await consul.catalog.register({
    node,
    address: "127.0.0.77",
    nodemeta: { rack: "r1" },
    service: { id: `${service}-1`, service, tags: ["blue", "v1"], meta: { team: "npm" }, address: "127.0.0.78", port: 8080 },
    check: { checkid: `${service}-alive`, name: "alive", serviceid: `${service}-1`, status: "passing", notes: "n" },
  });
  // A second service on the same node; skipnodeupdate keeps the node's meta from the first call.
  r.register2 = await consul.catalog.register({
    node,
    address: "127.0.0.77",
    skipnodeupdate: true,
    service: { id: `${service}-2`, service, tags: ["green"], port: 8081 },
  });
  r.nodes = await consul.catalog.node.list();
  r.nodesByMeta = await consul.catalog.node.list({ "node-meta": "rack:r1" });
  r.services = await consul.catalog.service.list();
  r.serviceNodes = await consul.catalog.service.nodes(service);
  r.serviceNodesTagged = await consul.catalog.service.nodes({ service, tag: "blue" });
  r.serviceNodesFiltered = await consul.catalog.service.nodes({ service, filter: 'ServicePort == 8081' });
  r.nodeServices = await consul.catalog.node.services(node);
  r.unknownNodeServices = await attempt(() => consul.catalog.node.services(`${node}-nobody`));
  r.unknownServiceNodes = await consul.catalog.service.nodes(`${service}-nobody`);
  r.badFilter = await attempt(() => consul.catalog.service.nodes({ service, filter: "ServicePort ==" }));

  r.deregisterService = await consul.catalog.deregister({ node, serviceid: `${service}-1` });
  r.afterServiceDeregister = await consul.catalog.service.nodes(service);
  r.deregisterNode = await consul.catalog.deregister(node);
  r.afterNodeDeregister = await consul.catalog.node.list();
  r.servicesAfter = await consul.catalog.service.list();
  r.registerNoNode = await attempt(() => consul.catalog.register({ address: "127.0.0.79" }));
  return r;
});

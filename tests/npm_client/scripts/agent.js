// Agent and health through the npm client: self/members, a service with a TTL check driven
// through pass/warn/fail, node and service maintenance, and the health views of each state.
// Usage: node agent.js HOST:PORT SERVICE
"use strict";
const { attempt, run, until } = require("./lib");

run(async (consul, [service]) => {
  const r = {};
  const self = await consul.agent.self();
  const node = self.Config.NodeName;
  r.self = { nodeName: node, version: self.Config.Version, datacenter: self.Config.Datacenter, member: self.Member };
  r.members = await consul.agent.members();

  const id = `${service}-1`;
  const checkId = `service:${id}`;
  r.register = await consul.agent.service.register({
    name: service, id, tags: ["npm", "primary"], port: 9090, meta: { via: "npm" },
    check: { ttl: "30s", notes: "heartbeat" },
  });
  // A second, unrelated standalone TTL check registered directly.
  r.checkRegister = await consul.agent.check.register({ name: "npm standalone", id: `${service}-standalone`, ttl: "30s", status: "passing" });
  r.services = await consul.agent.service.list();
  r.checks = await consul.agent.check.list();

  const healthStatus = async (passing) =>
    (await consul.health.service({ service, passing })).map((e) => e.Checks.map((c) => [c.CheckID, c.Status]));
  const stateIds = async (state) => (await consul.health.state(state)).map((c) => c.CheckID);

  r.initialAll = await until(async () => { const v = await healthStatus(false); return v.length ? v : null; });
  r.initialPassing = await healthStatus(true);

  r.pass = await consul.agent.check.pass({ id: checkId, note: "all good" });
  r.afterPass = await until(async () => { const v = await consul.health.service({ service, passing: true }); return v.length ? v : null; });
  r.checksAfterPass = await consul.health.checks(service);

  r.warn = await consul.agent.check.warn({ id: checkId, note: "degraded" });
  r.warningState = await until(async () => { const v = await stateIds("warning"); return v.includes(checkId) ? v : null; });
  r.passingAfterWarn = await healthStatus(true);

  r.fail = await consul.agent.check.fail({ id: checkId, note: "down" });
  r.criticalState = await until(async () => { const v = await stateIds("critical"); return v.includes(checkId) ? v : null; });
  r.checksAfterFail = await consul.health.checks(service);
  r.anyState = await stateIds("any");
  r.badState = await attempt(() => consul.health.state("sideways"));
  r.unknownCheck = await attempt(() => consul.agent.check.pass(`${service}-no-such-check`));

  // Service maintenance adds a critical check on the service; disabling removes it.
  await consul.agent.check.pass(checkId);
  r.serviceMaintOn = await consul.agent.service.maintenance({ id, enable: true, reason: "npm upgrade" });
  r.checksInServiceMaint = await until(async () => {
    const v = await consul.health.checks(service);
    return v.some((c) => c.CheckID === `_service_maintenance:${id}`) ? v : null;
  });
  r.passingInServiceMaint = await consul.health.service({ service, passing: true });
  r.serviceMaintOff = await consul.agent.service.maintenance({ id, enable: false });
  r.checksAfterServiceMaint = await until(async () => {
    const v = await consul.health.checks(service);
    return v.every((c) => c.CheckID !== `_service_maintenance:${id}`) ? v : null;
  });

  // Node maintenance puts the whole node (and so every service on it) out of rotation.
  r.nodeMaintOn = await consul.agent.maintenance({ enable: true, reason: "npm node work" });
  r.nodeInMaint = await until(async () => {
    const v = await consul.health.node(node);
    return v.some((c) => c.CheckID === "_node_maintenance") ? v : null;
  });
  r.passingInNodeMaint = await consul.health.service({ service, passing: true });
  r.nodeMaintOff = await consul.agent.maintenance(false);
  r.nodeAfterMaint = await until(async () => {
    const v = await consul.health.node(node);
    return v.every((c) => c.CheckID !== "_node_maintenance") ? v : null;
  });
  r.passingAfterMaint = await until(async () => { const v = await consul.health.service({ service, passing: true }); return v.length ? v : null; });

  r.checkDeregister = await consul.agent.check.deregister(`${service}-standalone`);
  r.deregister = await consul.agent.service.deregister(id);
  r.servicesAfter = await consul.agent.service.list();
  r.catalogAfter = await until(async () => { const v = await consul.catalog.service.nodes(service); return v.length === 0 ? v : null; });
  r.deregisterUnknown = await attempt(() => consul.agent.service.deregister(`${service}-never`));
  r.registerBadCheck = await attempt(() => consul.agent.service.register({ name: `${service}-bad`, check: { ttl: "soon" } }));
  return r;
});

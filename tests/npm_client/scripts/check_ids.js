// The check IDs the agent gives a service's checks that carry a Name but no ID, and whether the
// client can then update them by those IDs.
// Usage: node check_ids.js HOST:PORT SERVICE
"use strict";
const { attempt, run } = require("./lib");

run(async (consul, [service]) => {
  await consul.agent.service.register({ name: service, id: `${service}-one`, check: { name: "only", ttl: "30s" } });
  await consul.agent.service.register({
    name: service, id: `${service}-two`,
    checks: [{ ttl: "30s" }, { name: "second", ttl: "30s" }],
  });
  const checks = await consul.agent.check.list();
  const r = {
    ids: Object.keys(checks).filter((id) => checks[id].ServiceName === service).sort(),
    names: Object.values(checks).filter((c) => c.ServiceName === service).map((c) => c.Name).sort(),
    passOne: await attempt(() => consul.agent.check.pass(`service:${service}-one`)),
    passTwo: await attempt(() => consul.agent.check.pass(`service:${service}-two:2`)),
  };
  await consul.agent.service.deregister(`${service}-one`);
  await consul.agent.service.deregister(`${service}-two`);
  return r;
});

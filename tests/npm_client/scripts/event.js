// User events and status through the npm client.
// Usage: node event.js HOST:PORT EVENT_NAME
"use strict";
const { attempt, run } = require("./lib");

run(async (consul, [name]) => {
  const r = {};
  r.leader = await consul.status.leader();
  r.peers = await consul.status.peers();
  r.fired = await consul.event.fire(name, "deploy v1.2 ✓");
  r.firedEmpty = await consul.event.fire(`${name}-empty`);
  r.firedFiltered = await consul.event.fire({ name, payload: Buffer.from([0, 255]), service: "web", tag: "blue" });
  r.list = await consul.event.list(name);
  r.listAll = (await consul.event.list()).map((e) => e.Name);
  r.listOther = await consul.event.list(`${name}-never-fired`);
  r.fireNoName = await attempt(() => consul.event.fire({ payload: "x" }));
  return r;
});

// Sessions and locks through the npm client.
// Usage: node session.js HOST:PORT PREFIX
"use strict";
const { attempt, run } = require("./lib");

run(async (consul, [prefix]) => {
  const r = {};
  const node = (await consul.agent.self()).Config.NodeName;
  const lockKey = `${prefix}/lock`;

  const a = await consul.session.create({ name: `${prefix}-a`, ttl: "30s", lockdelay: "1ms", behavior: "release" });
  const b = await consul.session.create({ name: `${prefix}-b`, lockdelay: "0s" });
  r.created = [a, b];
  r.info = await consul.session.info(a.ID);
  r.list = (await consul.session.list()).map((s) => s.ID);
  r.nodeSessions = (await consul.session.node(node)).map((s) => s.ID);
  r.renew = await consul.session.renew(a.ID);

  r.acquireA = await consul.kv.set({ key: lockKey, value: "held by a", acquire: a.ID });
  r.heldByA = await consul.kv.get(lockKey);
  r.acquireB = await consul.kv.set({ key: lockKey, value: "want b", acquire: b.ID });
  r.releaseByB = await consul.kv.set({ key: lockKey, value: "x", release: b.ID });
  r.stillA = await consul.kv.get(lockKey);
  r.releaseA = await consul.kv.set({ key: lockKey, value: "free", release: a.ID });
  r.afterRelease = await consul.kv.get(lockKey);
  r.acquireBAfter = await consul.kv.set({ key: lockKey, value: "held by b", acquire: b.ID });
  r.heldByB = await consul.kv.get(lockKey);

  // Destroying the holder of a "release" session frees the lock; a "delete" session removes the key.
  r.destroyB = await consul.session.destroy(b.ID);
  r.afterDestroyB = await consul.kv.get(lockKey);
  const d = await consul.session.create({ name: `${prefix}-d`, behavior: "delete", lockdelay: "0s" });
  r.acquireD = await consul.kv.set({ key: `${prefix}/ephemeral`, value: "bye", acquire: d.ID });
  r.destroyD = await consul.session.destroy(d.ID);
  r.afterDestroyD = await consul.kv.get(`${prefix}/ephemeral`);

  r.destroyA = await consul.session.destroy(a.ID);
  r.infoAfterDestroy = await consul.session.info(a.ID);
  r.listAfter = (await consul.session.list()).map((s) => s.ID);
  r.acquireDead = await attempt(() => consul.kv.set({ key: lockKey, value: "z", acquire: a.ID }));
  r.renewUnknown = await attempt(() => consul.session.renew(a.ID));
  r.badTtl = await attempt(() => consul.session.create({ ttl: "1s" }));
  r.badBehavior = await attempt(() => consul.session.create({ behavior: "explode" }));
  return r;
});

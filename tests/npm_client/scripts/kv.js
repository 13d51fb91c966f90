// KV through the npm client: set/get round trip, flags, cas, keys, recurse, raw, delete.
// Usage: node kv.js HOST:PORT PREFIX
"use strict";
const { attempt, run } = require("./lib");

run(async (consul, [prefix]) => {
  const k = (name) => `${prefix}/${name}`;
  const r = {};
  const text = "héllo wörld ✓ {\"json\": true}\n";
  r.setPlain = await consul.kv.set(k("plain"), text);
  r.getPlain = await consul.kv.get(k("plain"));
  r.setFlags = await consul.kv.set({ key: k("flagged"), value: "f", flags: 42 });
  r.getFlags = await consul.kv.get(k("flagged"));
  r.getMissing = await consul.kv.get(k("missing"));
  r.getRaw = (await consul.kv.get({ key: k("plain"), raw: true })).toString("utf8");
  const binary = Buffer.from([0, 1, 2, 254, 255]);
  await consul.kv.set(k("binary"), binary);
  r.getBinary = (await consul.kv.get({ key: k("binary"), buffer: true })).Value.toString("hex");

  // cas: 0 means "only if absent"; a stale index loses; the current ModifyIndex wins.
  r.casCreate = await consul.kv.set({ key: k("cas"), value: "v1", cas: 0 });
  r.casCreateAgain = await consul.kv.set({ key: k("cas"), value: "v1b", cas: 0 });
  const first = await consul.kv.get(k("cas"));
  r.casFirst = first;
  r.casGood = await consul.kv.set({ key: k("cas"), value: "v2", cas: first.ModifyIndex });
  r.casStale = await consul.kv.set({ key: k("cas"), value: "v3", cas: first.ModifyIndex });
  r.casAfter = await consul.kv.get(k("cas"));
  const current = r.casAfter.ModifyIndex;
  r.delCasStale = await consul.kv.del({ key: k("cas"), cas: first.ModifyIndex });
  r.delCasGood = await consul.kv.del({ key: k("cas"), cas: current });
  r.casGone = await consul.kv.get(k("cas"));

  // A small tree for keys / separator / recurse.
  for (const name of ["tree/a", "tree/b", "tree/sub/c", "tree/sub/d", "treeish"]) {
    await consul.kv.set(k(name), name.toUpperCase());
  }
  r.keysAll = await consul.kv.keys(k("tree"));
  r.keysSep = await consul.kv.keys({ key: k("tree/"), separator: "/" });
  r.recurse = await consul.kv.get({ key: k("tree/"), recurse: true });
  r.recurseMissing = await consul.kv.get({ key: k("nothing-here/"), recurse: true });
  r.keysMissing = await attempt(() => consul.kv.keys(k("nothing-here/")));
  r.delOne = await consul.kv.del(k("tree/a"));
  r.delOneGone = await consul.kv.get(k("tree/a"));
  r.delMissing = await consul.kv.del(k("tree/never-there"));
  r.delTree = await consul.kv.del({ key: k("tree/sub/"), recurse: true });
  r.afterDelTree = await consul.kv.keys(k("tree"));
  r.setNoKey = await attempt(() => consul.kv.set({ value: "x" }));
  return r;
});

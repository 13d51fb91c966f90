// Transactions through the npm client: an all-or-nothing batch that succeeds, one that is rolled
// back by a failed check-index, and a malformed one.
// Usage: node txn.js HOST:PORT PREFIX
"use strict";
const { attempt, run } = require("./lib");

const b64 = (s) => Buffer.from(s).toString("base64");

run(async (consul, [prefix]) => {
  const r = {};
  const k = (name) => `${prefix}/${name}`;
  await consul.kv.set(k("existing"), "old");
  const existing = await consul.kv.get(k("existing"));

  r.ok = await consul.transaction.create([
    { KV: { Verb: "set", Key: k("one"), Value: b64("1"), Flags: 7 } },
    { KV: { Verb: "cas", Key: k("existing"), Value: b64("new"), Index: existing.ModifyIndex } },
    { KV: { Verb: "get", Key: k("existing") } },
  ]);
  r.afterOk = [await consul.kv.get(k("one")), await consul.kv.get(k("existing"))];

  // The stale check-index fails the whole batch: the set before it must not be applied.
  r.rolledBack = await attempt(() => consul.transaction.create([
    { KV: { Verb: "set", Key: k("two"), Value: b64("2") } },
    { KV: { Verb: "check-index", Key: k("existing"), Index: existing.ModifyIndex } },
  ]));
  r.afterRollback = await consul.kv.get(k("two"));

  r.badVerb = await attempt(() => consul.transaction.create([{ KV: { Verb: "frobnicate", Key: k("x") } }]));
  r.empty = await attempt(() => consul.transaction.create([]));

  r.deleteTree = await consul.transaction.create([{ KV: { Verb: "delete-tree", Key: `${prefix}/` } }]);
  r.afterDeleteTree = await consul.kv.get({ key: `${prefix}/`, recurse: true });
  return r;
});

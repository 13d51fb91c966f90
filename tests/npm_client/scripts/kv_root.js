// Listing the keys of an empty KV store from the root, as `consul.kv.keys()` does.
// Usage: node kv_root.js HOST:PORT
"use strict";
const { attempt, run } = require("./lib");

run(async (consul) => ({
  keys: await attempt(() => consul.kv.keys()),
  keysSeparator: await attempt(() => consul.kv.keys({ key: "", separator: "/" })),
}));

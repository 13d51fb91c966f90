// Blocking queries through the npm client's `watch` helper. Each watcher counts how often the
// client had to call Consul: a blocking query woken by an unrelated write returns early and makes
// the helper call again, so an unchanged count over a quiet window proves it stayed asleep.
// Usage: node watch.js HOST:PORT PREFIX QUIET_MS
"use strict";
const { describeError, run, sleep, until } = require("./lib");

function observe(consul, method, options) {
  const state = { calls: 0, changes: [], errors: [] };
  const watch = consul.watch({
    method: (opts) => {
      state.calls += 1;
      return method(opts);
    },
    options: { wait: "20s", ...options },
  });
  watch.on("change", (data, res) => {
    state.changes.push({ data, index: res.headers["x-consul-index"], calls: state.calls });
  });
  watch.on("error", (err) => state.errors.push(describeError(err)));
  return { watch, state };
}

const changed = (state, n) => until(() => state.changes.length >= n, 8000, 10);

run(async (consul, [prefix, quietArg]) => {
  const quietMs = Number(quietArg || 500);
  const r = {};
  const key = `${prefix}/watched`;
  const service = `${prefix.replace(/\W/g, "-")}-svc`;
  const otherService = `${service}-other`;
  await consul.kv.set(key, "v1");
  await consul.kv.set(`${prefix}/tree/a`, "a");
  await consul.kv.set(`${prefix}/tree/b`, "b");
  await consul.agent.service.register({ name: service, id: service, port: 1, check: { ttl: "60s", status: "critical" } });
  await until(async () => (await consul.health.service(service)).length > 0);

  const kv = observe(consul, (o) => consul.kv.get({ ...o, key }), {});
  const tree = observe(consul, (o) => consul.kv.get({ ...o, key: `${prefix}/tree/`, recurse: true }), {});
  const health = observe(consul, (o) => consul.health.service({ ...o, service, passing: true }), {});
  // Waits for a key that does not exist yet. Consul's index for a missing key is the KV table's,
  // so unlike the three above it may legitimately return on nearby writes: not in the quiet check.
  const later = observe(consul, (o) => consul.kv.get({ ...o, key: `${prefix}/later` }), {});
  const all = [kv, tree, health, later];
  const quiet = [kv, tree, health];
  await Promise.all(all.map((w) => changed(w.state, 1)));

  // Writes none of the three watchers depend on, then a quiet window.
  const calls = () => quiet.map((w) => w.state.calls);
  const before = calls();
  await consul.kv.set(`${prefix}/unrelated`, "x");
  await consul.kv.set(`${prefix}/watched-sibling`, "x");
  await consul.kv.set(`${prefix}/treeish`, "x");
  await consul.agent.service.register({ name: otherService, id: otherService, port: 2 });
  await consul.event.fire(`${service}-event`, "x");
  await sleep(quietMs);
  r.quiet = { before, after: calls(), changes: quiet.map((w) => w.state.changes.length) };

  // Now the changes each watcher does depend on.
  await consul.kv.set(key, "v2");
  await consul.kv.del(`${prefix}/tree/a`);
  await consul.agent.check.pass(`service:${service}`);
  await consul.kv.set(`${prefix}/later`, "arrived");
  await Promise.all([...quiet.map((w) => changed(w.state, 2)), until(() => {
    const last = later.state.changes[later.state.changes.length - 1];
    return last && last.data && last.data.Value === "arrived";
  }, 8000, 10)]);
  for (const w of all) w.watch.end();

  const summary = (w, pick) => ({
    calls: w.state.calls,
    errors: w.state.errors,
    changes: w.state.changes.map((c) => ({ index: c.index, calls: c.calls, data: pick(c.data) })),
  });
  r.kv = summary(kv, (d) => d && d.Value);
  r.tree = summary(tree, (d) => (d || []).map((e) => e.Key));
  r.health = summary(health, (d) => (d || []).map((e) => e.Service.ID));
  r.later = summary(later, (d) => d && d.Value);

  // A plain blocking read with nothing changing returns the unchanged value once `wait` is up.
  const current = await consul.kv.get(key);
  const started = Date.now();
  const timedOut = await consul.kv.get({ key, index: current.ModifyIndex, wait: "400ms" });
  r.timeout = { elapsedMs: Date.now() - started, before: current, after: timedOut };
  await consul.agent.service.deregister(service);
  await consul.agent.service.deregister(otherService);
  return r;
});

// Shared plumbing for the scenario scripts: build a client for the agent address given on the
// command line, run the scenario, print its result as one JSON document on stdout.
"use strict";

const Consul = require("consul");

function client() {
  const addr = process.argv[2];
  if (!addr || !addr.includes(":")) {
    process.stderr.write("usage: node <script>.js HOST:PORT [args...]\n");
    process.exit(2);
  }
  const i = addr.lastIndexOf(":");
  return new Consul({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
}

// What a caller can tell about a failed call: the client's own error flags and the HTTP status.
function describeError(err) {
  const out = {
    message: String(err && err.message),
    isPapi: !!err.isPapi,
    isResponse: !!err.isResponse,
    isValidation: !!err.isValidation,
  };
  if (err.isResponse && err.response) {
    out.statusCode = err.response.statusCode;
    const body = err.response.body;
    out.body = Buffer.isBuffer(body) ? body.toString() : body;
  }
  return out;
}

// Runs `fn` and returns {ok: value} or {error: describeError(err)}; never throws.
async function attempt(fn) {
  try {
    return { ok: await fn() };
  } catch (err) {
    return { error: describeError(err) };
  }
}

function toJSON(value) {
  return JSON.stringify(
    value,
    (_k, v) => {
      if (typeof v === "bigint") return v.toString();
      if (v && v.type === "Buffer" && Array.isArray(v.data)) return { buffer: Buffer.from(v.data).toString("hex") };
      return v === undefined ? null : v;
    },
  );
}

function run(scenario) {
  const consul = client();
  scenario(consul, process.argv.slice(3))
    .then((result) => {
      process.stdout.write(toJSON(result) + "\n");
      consul.destroy();
    })
    .catch((err) => {
      process.stderr.write((err && err.stack) || String(err));
      process.stderr.write("\n" + toJSON(describeError(err)) + "\n");
      consul.destroy();
      process.exitCode = 1;
    });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `probe` until it returns a truthy value or `ms` pass; returns the last value.
async function until(probe, ms = 5000, step = 50) {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!value && Date.now() < deadline) {
    await sleep(step);
    value = await probe();
  }
  return value;
}

module.exports = { attempt, describeError, run, sleep, until };

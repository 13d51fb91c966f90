// The HTTP API client: plain reads and writes, and `watch`, the blocking-query loop each live
// view runs (one per data source, stopped by the view's AbortSignal).

export class ApiError extends Error {
  constructor(status, body, path) {
    super(describe(status, body, path));
    this.status = status;
    this.body = body;
    this.path = path;
  }
}

// Consul's 403 names the right it wanted: "… lacks permission 'key:read' on \"app/x\"".
const LACKS = /lacks permission '([^']+)'(?: on "((?:[^"\\]|\\.)*)")?/;

export function lackedPermission(body) {
  const m = LACKS.exec(body || "");
  return m ? { permission: m[1], on: m[2] ?? null } : null;
}

export function describe(status, body, path) {
  const text = (body || "").trim();
  if (status === 403) {
    const lacked = lackedPermission(text);
    if (lacked) return `You lack ${lacked.permission}${lacked.on !== null ? ` on "${lacked.on}"` : ""}`;
    if (/ACL not found/.test(text)) return "Your token is not known to this datacenter (ACL not found): log in with another";
    return `You lack the permission for ${path}${text ? ` (${text})` : ""}`;
  }
  if (status === 0) return `The agent cannot be reached (${text || "network error"})`;
  return `${status}: ${text || "error"} (${path})`;
}

const WAIT = "60s";

export class Api {
  constructor({ dc, token = () => "", onLive = () => {} }) {
    this.dc = dc;
    this.token = token;
    this.onLive = onLive; // told true/false as requests succeed or fail (the header's live dot)
    this.defaultPolicy = "allow";
  }

  url(path, params = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === true) q.append(k, "");
      else if (v !== undefined && v !== null && v !== false) q.append(k, String(v));
    }
    if (this.dc) q.set("dc", this.dc);
    const qs = q.toString().replace(/=(&|$)/g, "$1"); // Consul's flags: ?keys not ?keys=
    return `/v1/${path}${qs ? "?" + qs : ""}`;
  }

  async request(method, path, { params = {}, body, signal, notFoundIsNull = false } = {}) {
    const headers = {};
    const token = this.token();
    if (token) headers["X-Consul-Token"] = token;
    let resp;
    try {
      resp = await fetch(this.url(path, params), { method, body, headers, signal, cache: "no-store" });
    } catch (err) {
      if (signal && signal.aborted) throw err;
      this.onLive(false);
      throw new ApiError(0, err.message, path);
    }
    this.onLive(true);
    const policy = resp.headers.get("X-Consul-Default-ACL-Policy");
    if (policy) this.defaultPolicy = policy; // what applies where no intention matches
    const index = Number(resp.headers.get("X-Consul-Index") || 0);
    if (resp.status === 404 && notFoundIsNull) return { data: null, index };
    const text = await resp.text();
    if (!resp.ok) throw new ApiError(resp.status, text, path);
    let data = text;
    if ((resp.headers.get("Content-Type") || "").includes("json")) data = text ? JSON.parse(text) : null;
    return { data, index };
  }

  async get(path, params = {}, opts = {}) {
    return (await this.request("GET", path, { params, ...opts })).data;
  }

  async put(path, body, params = {}) {
    return (await this.request("PUT", path, { params, body })).data;
  }

  async putJSON(path, value, params = {}) {
    return this.put(path, JSON.stringify(value), params);
  }

  async del(path, params = {}) {
    return (await this.request("DELETE", path, { params })).data;
  }

  // Calls onData(data, index) with the first answer and then on every change, until `signal`
  // aborts. Same index or identical bytes: no call. Index going backwards (a restore, a new
  // leader): start over. Errors go to onError and are retried with a capped back-off.
  watch(path, params, { signal, onData, onError = () => {}, notFoundIsNull = false }) {
    let index = 0;
    let last;
    let backoff = 500;
    const loop = async () => {
      while (!signal.aborted) {
        try {
          const blocking = index > 0 ? { index, wait: WAIT } : {};
          const res = await this.request("GET", path, { params: { ...params, ...blocking }, signal, notFoundIsNull });
          backoff = 500;
          const text = JSON.stringify(res.data);
          if (res.index < index) index = 0;
          else index = res.index;
          if (text !== last) {
            last = text;
            onData(res.data, res.index);
          }
          if (!res.index) await sleep(1000, signal); // no index to block on (a 404): poll gently
        } catch (err) {
          if (signal.aborted) return;
          onError(err);
          last = undefined;
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, 8000);
        }
      }
    };
    loop();
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// KV values arrive base64-encoded; text is shown as text, anything else as its size.
export function decodeValue(b64) {
  if (b64 === null || b64 === undefined) return { text: "", binary: false, size: 0 };
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), binary: false, size: bytes.length };
  } catch {
    return { text: "", binary: true, size: bytes.length };
  }
}

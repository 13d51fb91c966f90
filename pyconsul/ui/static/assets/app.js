// Start-up: read the settings the agent put in index.html, build the header, and mount the view
// for the current URL (unmounting aborts the old view's blocking queries).
import { Api } from "./api.js";
import { h } from "./dom.js";
import { mountLogin, storedToken } from "./login.js";
import { featureOf, sectionOf, visibleNav } from "./nav.js";
import { Router } from "./router.js";
import * as aclPolicies from "./views/acl_policies.js";
import * as aclRoles from "./views/acl_roles.js";
import * as aclTokens from "./views/acl_tokens.js";
import * as ca from "./views/ca.js";
import * as intentions from "./views/intentions.js";
import * as kv from "./views/kv.js";
import * as node from "./views/node.js";
import * as nodes from "./views/nodes.js";
import * as service from "./views/service.js";
import * as services from "./views/services.js";

const VIEWS = {
  services: services.mount,
  service: service.mount,
  nodes: nodes.mount,
  node: node.mount,
  "kv-folder": kv.mountFolder,
  "kv-key": kv.mountKey,
  "kv-create": kv.mountCreate,
  "acl-tokens": aclTokens.mountList,
  "acl-tokens-one": aclTokens.mountOne,
  "acl-tokens-create": aclTokens.mountCreate,
  "acl-policies": aclPolicies.mountList,
  "acl-policies-one": aclPolicies.mountOne,
  "acl-policies-create": aclPolicies.mountCreate,
  "acl-roles": aclRoles.mountList,
  "acl-roles-one": aclRoles.mountOne,
  "acl-roles-create": aclRoles.mountCreate,
  intentions: intentions.mount,
  ca: ca.mount,
};

function readSettings() {
  const meta = document.querySelector('meta[name="pyconsul-ui-settings"]');
  try { return JSON.parse(meta.content); } catch { return { ContentPath: "/ui/" }; }
}

const settings = readSettings();
const base = settings.ContentPath || "/ui/";
const main = document.getElementById("main");
const navList = document.getElementById("nav");
const dcSelect = document.getElementById("dc");
const live = document.getElementById("live");
let current = null; // { controller, route }
let localDc = "";

function setLive(ok) {
  live.dataset.live = ok ? "yes" : "no";
  live.textContent = ok ? "live" : "reconnecting…";
}

const router = new Router(base, (route) => show(route));

function navigate(route) {
  router.go(router.href(route), { replace: true });
}

function renderNav(route) {
  const section = sectionOf(route);
  navList.replaceChildren(...visibleNav(settings).map((item) => {
    const target = { name: item.route, dc: route.dc, prefix: "" };
    return h("li", {}, h("a", { href: router.href(target), "aria-current": item.section === section ? "page" : false, "data-nav": item.section }, item.label));
  }));
  if (dcSelect.value !== route.dc && [...dcSelect.options].some((o) => o.value === route.dc)) dcSelect.value = route.dc;
}

function show(route) {
  if (route.name === "home" || route.name === "notfound") {
    if (localDc) navigate({ name: "services", dc: localDc });
    return;
  }
  if (current && current.path === location.pathname + location.search && !current.stale) {
    // The same place again (a click on the link to this page): the view is already live.
    return;
  }
  if (current) current.controller.abort();
  const controller = new AbortController();
  current = { controller, path: location.pathname + location.search };
  const api = new Api({ dc: route.dc === localDc ? "" : route.dc, token: storedToken, onLive: setLive });
  renderNav(route);
  const view = h("div", { class: "view", "data-view": route.name });
  main.replaceChildren(view);
  const ctx = {
    api, router, route, settings, signal: controller.signal,
    setTitle: (t) => { document.title = `${t} · ${route.dc} · pyconsul`; },
  };
  const feature = featureOf(route);
  const mount = feature && settings[feature] !== true ? null : VIEWS[route.name];
  if (mount) mount(view, ctx);
  else {
    ctx.setTitle("Not available");
    view.append(h("h1", { tabindex: "-1", "data-focus": "heading" }, "Not available"),
      h("p", {}, `This agent does not serve a "${route.feature || sectionOf(route)}" view.`));
  }
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    const heading = view.querySelector('[data-focus="heading"]');
    if (heading && started) heading.focus({ preventScroll: true });
  }
  window.scrollTo({ top: 0 });
}

let started = false;

// Leaving the page must end its blocking queries at once: a long-poll the browser lets run on
// after unload keeps one of its six connections to the agent busy until the wait expires.
window.addEventListener("pagehide", () => { if (current) current.controller.abort(); });

// Logging in or out mounts the view again, so what it shows is what the new token may see.
function remount() {
  if (current) current.stale = true;
  router.emit();
}

async function start() {
  if (settings.ACLsEnabled) {
    const slot = document.getElementById("auth");
    slot.hidden = false;
    mountLogin(slot, { onChange: remount, onLive: setLive });
  }
  const api = new Api({ dc: "", token: storedToken, onLive: setLive });
  try {
    const self = await api.get("agent/self");
    localDc = self.Config.Datacenter;
    document.getElementById("node-name").textContent = self.Config.NodeName;
  } catch {
    localDc = "dc1";
  }
  let dcs = [localDc];
  try { dcs = await api.get("catalog/datacenters"); } catch { /* the local one is enough */ }
  const route = router.current();
  if (route.dc && !dcs.includes(route.dc)) dcs.push(route.dc);
  dcSelect.replaceChildren(...dcs.map((dc) => h("option", { value: dc }, dc)));
  dcSelect.addEventListener("change", () => {
    const r = router.current();
    const name = ["service", "node"].includes(r.name) ? r.name + "s" : r.name.startsWith("kv") ? "kv-folder"
      : r.name.startsWith("acl-") ? r.name.replace(/-(one|create)$/, "") : r.name;
    router.go(router.href({ name, dc: dcSelect.value, prefix: "", feature: r.feature }));
  });
  router.start();
  started = true;
}

start();

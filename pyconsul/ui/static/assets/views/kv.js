// Key/Value: browse by prefix, view and edit a key (saved with ?cas so a change someone else
// made in between is refused and shown, never overwritten), create, delete, delete a folder.
import { decodeValue } from "../api.js";
import { confirmDialog, h, notice, replaceKeepFocus } from "../dom.js";
import { matchesSearch } from "../health.js";
import { emptyRow, errorSlot, listToolbar, pageHeader, plural } from "./common.js";

const enc = (key) => key.split("/").map(encodeURIComponent).join("/");

function crumbs(ctx, path, { last = true } = {}) {
  const parts = path.split("/").filter(Boolean);
  const items = [h("li", {}, h("a", { href: ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: "" }) }, "Key/Value"))];
  let acc = "";
  parts.forEach((p, i) => {
    acc += p + "/";
    const isLast = i === parts.length - 1;
    if (isLast && !last) return;
    items.push(h("li", {}, isLast ? h("span", { "aria-current": "page" }, p)
      : h("a", { href: ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: acc }) }, p)));
  });
  return h("nav", { class: "breadcrumbs", "aria-label": "Key path" }, h("ol", {}, items));
}

export function mountFolder(root, ctx) {
  let prefix = ctx.route.prefix || "";
  if (prefix && !prefix.endsWith("/")) prefix += "/";
  ctx.setTitle(prefix || "Key/Value");
  const count = h("span", { class: "count" });
  const list = h("ul", { class: "rows kv", "data-test": "kv-keys" });
  const err = errorSlot();
  let keys = null;
  const render = () => {
    if (!keys) return;
    const shown = keys.filter((k) => matchesSearch(ctx.route.query.search, k.slice(prefix.length)));
    count.textContent = plural(keys.length, "item");
    replaceKeepFocus(list, shown.length ? shown.map((k) => keyRow(ctx, prefix, k)) : emptyRow(keys.length ? "No keys match." : "This folder is empty."));
  };
  const create = h("a", { class: "button primary", href: ctx.router.href({ name: "kv-create", dc: ctx.route.dc, prefix }), "data-test": "kv-create" }, "Create");
  const actions = h("div", { class: "actions" }, create);
  if (prefix) {
    actions.append(h("button", {
      type: "button", class: "danger", "data-test": "kv-delete-folder",
      onclick: async () => {
        let n = 0;
        try { n = ((await ctx.api.get(`kv/${enc(prefix)}`, { keys: true }, { notFoundIsNull: true })) || []).length; } catch (e) { err.show(e); return; }
        if (!(await confirmDialog(`Delete folder ${prefix}?`, `This deletes ${plural(n, "key")} under ${prefix}. It cannot be undone.`, "Delete folder"))) return;
        try {
          await ctx.api.del(`kv/${enc(prefix)}`, { recurse: true });
          const parent = prefix.slice(0, -1).includes("/") ? prefix.slice(0, prefix.slice(0, -1).lastIndexOf("/") + 1) : "";
          ctx.router.go(ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: parent }));
        } catch (e) { err.show(e); }
      },
    }, "Delete folder"));
  }
  root.append(crumbs(ctx, prefix), pageHeader(prefix ? prefix.split("/").slice(-2)[0] + "/" : "Key/Value", count, actions),
    listToolbar(ctx, { placeholder: "Search keys in this folder", statuses: false, onChange: render }), err.el, list);
  ctx.api.watch(`kv/${enc(prefix)}`, { keys: true, separator: "/" }, {
    signal: ctx.signal, notFoundIsNull: true,
    onData: (data) => { err.clear(); keys = (data || []).filter((k) => k !== prefix); render(); },
    onError: (e) => err.show(e),
  });
}

function keyRow(ctx, prefix, key) {
  const folder = key.endsWith("/");
  const label = key.slice(prefix.length);
  const href = folder ? ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: key })
    : ctx.router.href({ name: "kv-key", dc: ctx.route.dc, key });
  return h("li", { class: "row", "data-kv": key },
    h("div", { class: "row-main" },
      h("span", { class: "kv-icon", "aria-hidden": "true" }, folder ? "📁" : "🔑"),
      h("a", { href, class: "row-title", "data-key": `kv:${key}` }, label),
      h("span", { class: "muted" }, folder ? "folder" : "")));
}

export function mountKey(root, ctx) {
  const key = ctx.route.key;
  ctx.setTitle(key);
  const err = errorSlot();
  const banner = h("div", { "aria-live": "polite", "data-test": "kv-banner" });
  const value = h("textarea", { name: "value", rows: 12, spellcheck: false, "aria-label": `Value of ${key}`, "data-test": "kv-value" });
  const info = h("p", { class: "muted", "data-test": "kv-info" });
  let loaded = null; // the entry the textarea was filled from; its ModifyIndex is the cas
  let latest = null;
  let dirty = false;
  value.addEventListener("input", () => { dirty = value.value !== (loaded ? decodeValue(loaded.Value).text : ""); });
  const fill = (entry) => {
    loaded = entry;
    dirty = false;
    const v = decodeValue(entry.Value);
    value.value = v.text;
    value.readOnly = v.binary;
    info.textContent = `${v.binary ? `binary value, ${v.size} bytes (not editable here) · ` : ""}ModifyIndex ${entry.ModifyIndex} · Flags ${entry.Flags}${entry.Session ? ` · locked by session ${entry.Session}` : ""}`;
    banner.replaceChildren();
  };
  const loadLatest = h("button", { type: "button", "data-test": "kv-load-latest", onclick: () => latest && fill(latest) }, "Load latest value");
  const showChanged = (text) => banner.replaceChildren(notice("warning", text, " ", loadLatest));
  const save = h("button", { type: "submit", class: "primary", "data-test": "kv-save" }, "Save");
  const del = h("button", {
    type: "button", class: "danger", "data-test": "kv-delete",
    onclick: async () => {
      if (!(await confirmDialog(`Delete ${key}?`, "The key and its value are removed.", "Delete"))) return;
      try {
        const ok = await ctx.api.del(`kv/${enc(key)}`, { cas: loaded ? loaded.ModifyIndex : 0 });
        if (ok === false) { showChanged("Not deleted: someone changed this key after you loaded it."); return; }
        const parent = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
        ctx.router.go(ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: parent }));
      } catch (e) { err.show(e); }
    },
  }, "Delete");
  const form = h("form", { class: "kv-form", "data-test": "kv-form" },
    h("label", { class: "field" }, h("span", {}, "Value"), value), info,
    h("div", { class: "actions" }, save, del));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!loaded) return;
    try {
      const ok = await ctx.api.put(`kv/${enc(key)}`, value.value, { cas: loaded.ModifyIndex });
      if (ok === false) {
        showChanged("Not saved: someone else changed this key after you loaded it. Your text is still here; load the latest value to compare, then save again.");
        return;
      }
      dirty = false;
      banner.replaceChildren(notice("success", "Saved."));
    } catch (e2) { err.show(e2); }
  });
  root.append(crumbs(ctx, key, { last: false }), pageHeader(key.split("/").pop()), banner, err.el, form);
  ctx.api.watch(`kv/${enc(key)}`, {}, {
    signal: ctx.signal, notFoundIsNull: true,
    onData: (data) => {
      err.clear();
      const entry = data && data[0];
      latest = entry || null;
      if (!entry) {
        if (loaded) showChanged("This key was deleted by someone else.");
        else banner.replaceChildren(notice("info", `There is no key ${key}.`));
        save.disabled = true; del.disabled = true;
        return;
      }
      save.disabled = false; del.disabled = false;
      if (!loaded || (!dirty && entry.ModifyIndex !== loaded.ModifyIndex)) {
        const saved = banner.textContent === "Saved.";
        fill(entry);
        if (saved) banner.replaceChildren(notice("success", "Saved."));
      } else if (entry.ModifyIndex !== loaded.ModifyIndex) {
        showChanged(`Someone else changed this key (ModifyIndex ${entry.ModifyIndex}) while you were editing.`);
      }
    },
    onError: (e) => err.show(e),
  });
}

export function mountCreate(root, ctx) {
  const prefix = ctx.route.prefix || "";
  ctx.setTitle(`New key in ${prefix || "/"}`);
  const err = errorSlot();
  const name = h("input", { name: "key", required: true, autocomplete: "off", "data-test": "kv-new-key",
    "aria-describedby": "key-help" });
  const value = h("textarea", { name: "value", rows: 10, spellcheck: false, "data-test": "kv-new-value" });
  const form = h("form", { class: "kv-form", "data-test": "kv-create-form" },
    h("label", { class: "field" }, h("span", {}, `Key or folder (under ${prefix || "the root"})`), name),
    h("p", { id: "key-help", class: "muted" }, "End the name with / to create a folder."),
    h("label", { class: "field" }, h("span", {}, "Value"), value),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", "data-test": "kv-create-save" }, "Save"),
      h("a", { class: "button", href: ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix }) }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = prefix + name.value.replace(/^\/+/, "");
    if (!name.value.trim()) return;
    const folder = key.endsWith("/");
    try {
      // cas=0: only if the key does not exist yet, so creating never replaces someone's value.
      const ok = await ctx.api.put(`kv/${enc(key)}`, folder ? "" : value.value, { cas: 0 });
      if (ok === false) { err.show(new Error(`A key named ${key} already exists; open it to edit.`)); return; }
      ctx.router.go(folder ? ctx.router.href({ name: "kv-folder", dc: ctx.route.dc, prefix: key })
        : ctx.router.href({ name: "kv-key", dc: ctx.route.dc, key }));
    } catch (e2) { err.show(e2); }
  });
  root.append(crumbs(ctx, prefix), pageHeader("Create a key"), err.el, form);
  name.focus();
}

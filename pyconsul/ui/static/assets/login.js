// The ACL login box in the header: the token lives in this browser's localStorage and api.js
// sends it as X-Consul-Token; GET /v1/acl/token/self (no right needed) says who you are.
import { Api } from "./api.js";
import { h } from "./dom.js";

export const TOKEN_KEY = "pyconsul:token";
const CONFIGURED = "configured token";

export function storedToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

// Who a token is, in a few words: its description, else the start of its AccessorID.
export function whoLabel(self) {
  if (!self) return "";
  return self.Description || `token ${String(self.AccessorID || "").slice(0, 8)}`;
}

// GET acl/token/self: a 404 means the token resolved but has no stored row (a configured
// token such as acl.tokens.initial_management) — a valid login; a 403 is an unknown token.
async function tokenSelf(token, onLive) {
  try {
    return await new Api({ dc: "", token: () => token, onLive }).get("acl/token/self");
  } catch (err) {
    if (err.status === 404) return { AccessorID: "", Description: CONFIGURED };
    throw err;
  }
}

// `onChange` runs after logging in or out, so the view is mounted again with the new token.
export function mountLogin(slot, { onChange, onLive }) {
  const render = async () => {
    const token = storedToken();
    if (!token) {
      slot.replaceChildren(h("button", { type: "button", class: "small login", "data-test": "login-open", onclick: openDialog }, "Log in"));
      return;
    }
    const who = h("span", { class: "whoami", "data-test": "whoami" }, "…");
    const out = h("button", { type: "button", class: "small", "data-test": "logout", onclick: () => { localStorage.removeItem(TOKEN_KEY); render(); onChange(); } }, "Log out");
    slot.replaceChildren(who, out);
    try {
      const self = await tokenSelf(token, onLive);
      who.textContent = whoLabel(self);
      who.title = self.AccessorID ? `AccessorID ${self.AccessorID}`
        : "A token from the agent's configuration (such as acl.tokens.initial_management), not in the token store";
      who.dataset.accessor = self.AccessorID;
    } catch (e) {
      who.textContent = e.message;
      who.classList.add("whoami-bad");
    }
  };

  const openDialog = () => {
    const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true, "data-test": "login-token", "aria-describedby": "login-help" });
    const problem = h("p", { class: "notice notice-error", role: "alert", hidden: true, "data-test": "login-error" });
    const cancel = h("button", { type: "button", "data-test": "login-cancel" }, "Cancel");
    const form = h("form", { method: "dialog", class: "login-form" },
      h("h2", { id: "login-title" }, "Log in with an ACL token"),
      h("label", {}, "Token (its SecretID)", input),
      h("p", { id: "login-help", class: "muted" }, "Stored in this browser only, and sent to the agent with every request."),
      problem,
      h("div", { class: "actions" }, cancel, h("button", { type: "submit", class: "primary", "data-test": "login-submit" }, "Log in")));
    const dlg = h("dialog", { class: "confirm", "aria-labelledby": "login-title" }, form);
    const close = () => { dlg.close(); dlg.remove(); };
    cancel.addEventListener("click", close);
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      try {
        // Checked before it is kept: a mistyped token is refused here, not on every view.
        await tokenSelf(token, onLive);
      } catch (err) {
        problem.textContent = err.message;
        problem.hidden = false;
        return;
      }
      localStorage.setItem(TOKEN_KEY, token);
      close();
      render();
      onChange();
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  };

  render();
}

// partnermatch sales-rep page: skill suggestions, partner look-up and feedback without reloading.
// Every fetch carries the session cookie (same origin); failures are said in words, never thrown.
"use strict";

const UNREACHABLE = "The server cannot be reached. Check your connection and try again.";

function say(message, where) {
  const box = where || document.getElementById("status");
  if (!box) return;
  box.textContent = message;
}

async function getJson(url, options) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, ...options });
  } catch (error) {
    return { ok: false, message: UNREACHABLE };
  }
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (response.status === 401) {
    return { ok: false, message: (body && body.message) || "Your session expired. Sign in again.", signIn: true };
  }
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    const text = (body && body.message) || `The server answered ${response.status}.`;
    return { ok: false, message: retry ? `${text} (retry in ${retry} s)` : text };
  }
  return { ok: true, body };
}

function signInLink(box) {
  const link = document.createElement("a");
  link.href = "/sign-in?reason=expired";
  link.textContent = " Sign in again";
  box.appendChild(link);
}

// A failed look-up, said in the status line (with a sign-in link when the session expired).
function sayFailure(found) {
  say(found.message);
  if (found.signIn) signInLink(document.getElementById("status"));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function lastFragment(value) {
  const parts = value.split(",");
  return parts[parts.length - 1].trim();
}

function setupSkillSuggestions(input) {
  const list = document.getElementById(input.getAttribute("aria-controls"));
  const show = (skills) => {
    list.replaceChildren();
    for (const skill of skills) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = skill;
      button.addEventListener("click", () => {
        const parts = input.value.split(",").map((p) => p.trim()).filter(Boolean);
        if (lastFragment(input.value)) parts.pop();
        if (!parts.includes(skill)) parts.push(skill);
        input.value = parts.join(", ") + ", ";
        list.hidden = true;
        input.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    }
    list.hidden = skills.length === 0;
  };
  const suggest = debounce(async () => {
    const prefix = lastFragment(input.value);
    if (!prefix) { show([]); return; }
    const found = await getJson(`${input.dataset.suggest}?prefix=${encodeURIComponent(prefix)}&limit=8`);
    if (!found.ok) {
      sayFailure(found);
      show([]);
      return;
    }
    say("");
    show((found.body.values || []).map((v) => v.value));
  }, 200);
  input.addEventListener("input", suggest);
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") list.hidden = true; });
}

// Fills the input's <datalist> from a JSON look-up as the user types: `url` gives the look-up's address for
// the typed text (null: nothing to ask), `options` the [value, label] pairs of its answer.
function setupDatalist(input, ms, url, options) {
  const list = document.getElementById(input.getAttribute("list"));
  const lookup = debounce(async () => {
    const address = url(input.value.trim());
    if (!address) return;
    const found = await getJson(address);
    if (!found.ok) {
      sayFailure(found);
      return;
    }
    say("");
    list.replaceChildren();
    for (const [value, label] of options(found.body)) {
      const option = document.createElement("option");
      option.value = value;
      option.label = label;
      list.appendChild(option);
    }
  }, ms);
  input.addEventListener("input", lookup);
}

function setupPartnerLookup(input) {
  // Under two characters, or once a chosen "Name (id)" fills the field, there is nothing to look up.
  const url = (q) =>
    q.length < 2 || /\([^()]+\)\s*$/.test(q) ? null : `${input.dataset.lookup}?q=${encodeURIComponent(q)}&limit=8`;
  const options = (body) => (body.partners || []).map((p) => [`${p.name} (${p.partner_id})`, `${p.role}, ${p.tier}`]);
  setupDatalist(input, 250, url, options);
}

function setupSkillList(input) {
  const url = (prefix) =>
    prefix ? `${input.dataset.suggestList}?prefix=${encodeURIComponent(prefix)}&limit=8` : null;
  const options = (body) => (body.values || []).map((tag) => [tag.value, `${tag.partners} partners`]);
  setupDatalist(input, 200, url, options);
}

function setupFeedback(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector(".feedback-status");
    const data = new URLSearchParams(new FormData(form));
    if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
    const found = await getJson(form.getAttribute("action"), {
      method: "POST",
      body: data,
      headers: { Accept: "application/json", "X-Requested-With": "fetch" },
    });
    status.textContent = found.ok ? found.body.message : found.message;
    status.classList.toggle("expired", !found.ok);
    if (found.signIn) signInLink(status);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-suggest]").forEach(setupSkillSuggestions);
  document.querySelectorAll("[data-lookup]").forEach(setupPartnerLookup);
  document.querySelectorAll("[data-suggest-list]").forEach(setupSkillList);
  document.querySelectorAll("form[data-feedback]").forEach(setupFeedback);
});

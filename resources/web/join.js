// Runs on the "this room needs its key" page (and its "no longer valid" and
// "too many keys" forms). A join link `/#key=…` (a room's: `/rooms/{slug}/#key=…`,
// or its host link's `#host=…`) arrives here: the fragment never reaches the
// server, so this script takes the key out of the address bar and the history
// at once, trades it for a device cookie of the room (`POST join`, relative to
// the page), and opens the participant page.
//
// A link followed from another site's page (webmail, a chat) arrives without
// the SameSite=Strict cookie, which the page's own requests do carry: if the
// cookie is there after all, open the participant page from here.
"use strict";

const REJOINED_KEY = "mudameter.rejoined"; // cleared by app.js once the page runs

function say(text) {
  const message = document.getElementById("join-message");
  if (message) {
    message.textContent = text;
  }
}

function takeKeyFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const query = new URLSearchParams(window.location.search);
  if (!fragment.has("key") && !fragment.has("host") && !query.has("key")) {
    return { found: false, key: null };
  }
  window.history.replaceState(null, "", window.location.pathname);
  // A `?key=` was judged by the server already (this page is its refusal).
  return { found: true, key: fragment.get("key") || fragment.get("host") };
}

async function join(key) {
  say("Joining the room…");
  const response = await fetch("join", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
    body: JSON.stringify({ key }),
  });
  if (response.ok) {
    window.location.replace(window.location.pathname);
  } else if (response.status === 429) {
    say("Too many wrong room keys were tried just now. Wait a minute, then open the join link again.");
  } else {
    say("This room key is no longer valid. Ask the host for the new join link, or scan the QR code again.");
  }
}

async function rejoin() {
  if (sessionStorage.getItem(REJOINED_KEY)) {
    return; // tried once already and came back here: the key really is missing
  }
  const page = window.location.pathname;
  const response = await fetch(page, { credentials: "same-origin", cache: "no-store" });
  if (response.ok) {
    sessionStorage.setItem(REJOINED_KEY, "1");
    window.location.replace(page);
  }
}

async function start() {
  const { found, key } = takeKeyFromAddress();
  try {
    if (key) {
      await join(key);
    } else if (!found) {
      await rejoin();
    }
  } catch {
    // no storage or no server: the page's message stands
    if (key) {
      say("Cannot reach Muda Meter. Open the join link again in a moment.");
    }
  }
}

// A link pasted into this very tab changes only the fragment: no new page load.
window.addEventListener("hashchange", start);
start();

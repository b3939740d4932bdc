// Runs on the "this room needs its key" page. A join link followed from
// another site's page (webmail, a chat) sets the key cookie, but the browser
// withholds that SameSite=Strict cookie from navigations started on the other
// site. Requests from this page are same-site and carry it: if the key is
// there after all, open the participant page from here.
"use strict";

const REJOINED_KEY = "mudameter.rejoined"; // cleared by app.js once the page runs

async function rejoin() {
  try {
    if (sessionStorage.getItem(REJOINED_KEY)) {
      return; // tried once already and came back here: the key really is missing
    }
    const response = await fetch("/", { credentials: "same-origin", cache: "no-store" });
    if (response.ok) {
      sessionStorage.setItem(REJOINED_KEY, "1");
      window.location.replace("/");
    }
  } catch {
    // no storage or no server: the page's message stands
  }
}

rejoin();

// The participant page: say how you are, see the room's mood right now.
// Plain script, no build step, no network beyond this server.
//
// Served at `/` (the room `default`) and at `/rooms/{slug}/` (a team server's
// rooms): every path below is relative to the page, so it reaches its own room.
"use strict";

const REFRESH_MS = 5000;
// Each room remembers its own participant (one origin may serve many rooms).
const ROOM_PAGE = window.location.pathname;
const ID_KEY = ROOM_PAGE === "/" ? "mudameter.participant" : `mudameter.participant:${ROOM_PAGE}`;
const REJOINED_KEY = "mudameter.rejoined"; // shared with join.js
const STATUSES = ["speaking", "engaged", "disengaged"];

// `clicks` counts status posts, so a refresh that started before one never
// shows the status it replaced; `pending` counts those not answered yet.
const state = { meetingId: null, handle: null, pending: 0, clicks: 0 };

// A join link's key (`#key=…`, or the older `?key=…`), or a host link's token
// (`#host=…`), leaves the address bar and the history at once. The server
// already traded a `?key=` for the device cookie; a fragment never reaches it,
// so this page trades it (a link opened again on a joined phone, e.g. after
// "New room key").
function takeKeyFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const query = new URLSearchParams(window.location.search);
  if (!fragment.has("key") && !fragment.has("host") && !query.has("key")) {
    return null;
  }
  window.history.replaceState(null, "", ROOM_PAGE);
  return fragment.get("key") || fragment.get("host");
}

function storedId() {
  try {
    return localStorage.getItem(ID_KEY);
  } catch {
    return null; // storage disabled: every visit is a new participant
  }
}

function storeId(id) {
  try {
    localStorage.setItem(ID_KEY, id);
  } catch {
    // nothing to do: the id lives for this page only
  }
}

class HttpError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function call(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new HttpError(response.status, answer.detail || response.statusText);
  }
  return answer;
}

function showMessage(text, isError) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.classList.toggle("error", Boolean(isError));
}

function showError(error) {
  if (error instanceof HttpError && error.status === 401) {
    showMessage("This room needs its key. Ask the host for the join link or scan the QR code.", true);
  } else if (error instanceof HttpError && error.status === 403) {
    showMessage("The room key has changed. Ask for the new join link or scan the QR code.", true);
  } else if (error instanceof HttpError && error.status === 429) {
    showMessage("Too many taps; wait a moment.", true);
  } else {
    showMessage("Cannot reach Muda Meter; retrying…", true);
  }
}

// 24-hour times, as the desktop app shows them ("Meeting 11:00").
function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
}

function showMeeting(meeting) {
  state.meetingId = meeting.id;
  document.getElementById("title").textContent = meeting.title;
  document.getElementById("time").textContent =
    `${timeOf(meeting.starts_at)} – ${timeOf(meeting.ends_at)}`;
  document.title = `${meeting.title} · Muda Meter`;
}

function showStatus(status) {
  for (const name of STATUSES) {
    document.getElementById(name).setAttribute("aria-pressed", String(name === status));
  }
}

function showCounts(counts) {
  for (const name of STATUSES) {
    document.getElementById(`count-${name}`).textContent = String(counts ? counts[name] : 0);
  }
}

// Refresh: a visit keeps this participant alive and follows the meeting of
// the hour; the meeting's detail gives our status (found by our public
// handle) and the room now: everyone once, under the status they hold now.
async function refresh() {
  const clicks = state.clicks;
  const visit = await call("POST", "visit", { participant_id: storedId() });
  storeId(visit.participant_id);
  state.handle = visit.handle;
  showMeeting(visit.meeting);
  await showRoom(visit.meeting.id, clicks);
}

async function showRoom(meetingId, clicks) {
  const detail = await call("GET", `meetings/${meetingId}`);
  if (clicks !== state.clicks) {
    return; // a click came in meanwhile: its own answer is newer
  }
  const me = detail.participants.find((participant) => participant.handle === state.handle);
  showStatus(me ? me.status : null);
  showCounts(detail.room);
  showMessage("");
}

// Clicks are sent one after another, so the last one shown is the last one made.
let clickQueue = Promise.resolve();

function setStatus(status) {
  state.clicks += 1;
  state.pending += 1;
  clickQueue = clickQueue.then(() => postStatus(status)).finally(() => {
    state.pending -= 1;
  });
}

async function postStatus(status) {
  try {
    const answer = await call("POST", "users/status", { status, participant_id: storedId() });
    storeId(answer.participant_id);
    state.handle = answer.handle;
    showStatus(answer.status);
    showMessage("");
    if (answer.meeting_id !== state.meetingId) {
      await refresh();
    } else if (state.pending === 1) {
      await showRoom(answer.meeting_id, state.clicks); // the last click: the room with it
    }
  } catch (error) {
    showError(error);
  }
}

async function tick() {
  if (state.pending === 0) {
    try {
      await refresh();
    } catch (error) {
      showError(error);
    }
  }
  window.setTimeout(tick, REFRESH_MS);
}

async function joinFromAddress() {
  const key = takeKeyFromAddress();
  if (key) {
    try {
      await call("POST", "join", { key }); // renews the device cookie
    } catch (error) {
      showError(error);
    }
  }
}

async function start() {
  await joinFromAddress();
  // A link pasted into this very tab changes only the fragment: no new page load.
  window.addEventListener("hashchange", joinFromAddress);
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  try {
    sessionStorage.removeItem(REJOINED_KEY); // join.js got us here: it may try again later
  } catch {
    // storage disabled: join.js never retries
  }
  for (const name of STATUSES) {
    document.getElementById(name).addEventListener("click", () => setStatus(name));
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.pending === 0) {
      refresh().catch(showError);
    }
  });
  start();
});

// The seek page's entry (Play now): wait on the seek's socket until someone with the same time
// control arrives, then go to the game.
//
// The page never goes to the game by itself: it goes back to /play/<seek id>/, whose view puts
// the seat in this browser's session and sends it on to the game (or home, with a message, if
// the seek ended). While the socket is down the seek keeps its place for a while
// (GAME_SEEK_GRACE_SECONDS); the socket comes back by itself and says hello again.

import { LiveSocket } from '../shared/live-socket.js';

const LOST_SHOWN_AFTER_MS = 1500; // a blip that heals at once is not worth a word
const CANCEL_FALLBACK_MS = 4000; // no answer to our cancel: post the form after all
const TICK_MS = 250;

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('seek-config').textContent);
const waited = $('seek-waited');
const status = $('seek-status');
const form = $('cancel-form');
const cancelButton = $('cancel-seek');
const offer = $('computer-offer');
const computerForm = $('computer-form');
const seekPage = `/play/${encodeURIComponent(config.seekId)}/`;

const SAY = {
  reconnecting: 'Reconnecting… Your place in the queue is kept for a little while.',
  reconnected: 'Reconnected. Still looking for an opponent.',
  paired: 'Opponent found! Starting the game…',
  cancelling: 'Cancelling…',
  ended: 'This search for an opponent is over.',
  offer: 'Nobody with this time control has come yet. You can play the computer instead, or keep waiting.',
  computer: 'Starting a game against the computer…',
};

// ----- Time waited ----------------------------------------------------------------------------

// performance.now() when the seek was made: first from its creation time on this page's clock,
// then from the server's own count (waited_ms), which a wrong clock here cannot skew.
let madeAt = performance.now() - Math.max(0, Date.now() - config.createdAt);

function waitedText(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const ss = String(seconds % 60).padStart(2, '0');
  if (hours) return `${hours}:${String(minutes % 60).padStart(2, '0')}:${ss}`;
  return `${minutes}:${ss}`;
}

function tick() {
  const ms = performance.now() - madeAt;
  const text = waitedText(ms);
  if (waited.textContent !== text) waited.textContent = text;
  if (offer.hidden && !finished && ms >= config.offerComputerAfterMs) {
    offer.hidden = false;
    if (!cancelling && !lostShown) say(SAY.offer);
  }
}

// ----- What the page shows ---------------------------------------------------------------------

let finished = false; // paired or ended: we are leaving
let cancelling = false;
let cancelFallback = 0;
let connected = false;
let lostTimer = 0;
let lostShown = false;

function say(text, tone = '') {
  status.textContent = text;
  status.dataset.tone = tone;
}

function show(seekStatus) {
  document.body.dataset.seekStatus = seekStatus;
}

function leave(path) {
  finished = true;
  clearTimeout(cancelFallback);
  clearTimeout(lostTimer);
  socket.stop();
  cancelButton.setAttribute('aria-disabled', 'true');
  location.replace(path); // Back from the game goes home, not to a finished search
}

// The socket could not cancel: the form does it (and its answer takes us home, or to the game).
function postCancel() {
  if (finished) return;
  finished = true;
  clearTimeout(cancelFallback);
  clearTimeout(lostTimer);
  socket.stop();
  form.submit();
}

// ----- What the server says --------------------------------------------------------------------

function onMessage(message) {
  if (finished) return;
  if (message.type === 'seeking') {
    // The server has our hello: we are pairable again, and hear from it the moment we are paired.
    madeAt = performance.now() - message.seek.waited_ms;
    tick();
    heard();
  } else if (message.type === 'paired') {
    show('paired');
    say(SAY.paired, 'good');
    leave(seekPage); // the view remembers the seat, then redirects to the game
  } else if (message.type === 'ended') {
    show(message.status);
    say(SAY.ended);
    // Our own cancel, an expiry, an operator: the seek's page sends us home with the reason. A
    // cancel we did not ask for was made elsewhere (another tab, a newer Play now), which has
    // said so there; this search is no longer this session's, so its page would not be found.
    leave(message.status === 'cancelled' && !cancelling ? '/' : seekPage);
  } else if (message.type === 'error' && cancelling) {
    postCancel();
  } else if (message.type === 'error' && message.code === 'unavailable') {
    // The server could not reach its database for our hello: come back shortly and say it again.
    socket.networkLost();
  }
}

function heard() {
  connected = true;
  clearTimeout(lostTimer);
  lostTimer = 0;
  document.body.dataset.connected = 'true';
  if (lostShown && !cancelling) say(SAY.reconnected);
  lostShown = false;
}

function onLost(reason) {
  if (finished) return;
  connected = false;
  document.body.dataset.connected = 'false';
  if (reason === 'gone') {
    // No such seek, or not ours: the server keeps no more to say.
    say(SAY.ended);
    leave('/');
    return;
  }
  if (cancelling) {
    postCancel();
    return;
  }
  if (!lostTimer) {
    lostTimer = setTimeout(() => {
      lostTimer = 0;
      if (connected || finished) return;
      lostShown = true;
      say(SAY.reconnecting, 'pending');
    }, LOST_SHOWN_AFTER_MS);
  }
}

const socket = new LiveSocket(config.socketPath, {
  hello: { type: 'hello', token: config.token },
  message: onMessage,
  lost: onLost,
});

// ----- Cancel ----------------------------------------------------------------------------------

// Over the socket when it is open (its answer, `ended`, takes us home); else the form posts.
form.addEventListener('submit', (event) => {
  if (finished || cancelling) {
    event.preventDefault();
    return;
  }
  if (!socket.send({ type: 'cancel' })) return;
  event.preventDefault();
  cancelling = true;
  cancelButton.setAttribute('aria-disabled', 'true');
  say(SAY.cancelling);
  cancelFallback = setTimeout(postCancel, CANCEL_FALLBACK_MS);
});

// ----- Play the computer instead ---------------------------------------------------------------

// The form's view ends the seek, then starts the game (or, paired meanwhile, goes to that game):
// the socket is let go first, so the seek's end it hears about does not take us home.
computerForm.addEventListener('submit', (event) => {
  if (finished || cancelling) {
    event.preventDefault();
    return;
  }
  finished = true;
  clearTimeout(lostTimer);
  socket.stop();
  cancelButton.setAttribute('aria-disabled', 'true');
  say(SAY.computer);
});

// ----- Start -----------------------------------------------------------------------------------

window.addEventListener('offline', () => socket.networkLost());
window.addEventListener('online', () => socket.reconnectNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') socket.reconnectNow();
});
// Back to a page kept in the back/forward cache: the search may be long over; ask the server.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) location.reload();
});

document.body.dataset.connected = 'false';
setInterval(tick, TICK_MS);
tick();
socket.start();

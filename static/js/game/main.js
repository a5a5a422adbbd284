// The game page's entry: wires the protocol client, the state, the board and the panels together.
//
// The server is the only judge of the game. The page never changes the board on its own; it
// sends a move and waits for the server's event, so every tab, player and spectator sees the
// same thing in the same order. What the client hears is folded into the state (state/);
// the fold's news is said to screen readers (words/); then the board and panels redraw.
//
// This module holds no game logic, draws nothing itself and builds no messages but the few
// actions below; new features add a module and a few lines of wiring here.

import { createBoard } from './board.js';
import { createClocks } from './clocks.js';
import { fetchEvents, gamePath } from './http.js';
import { createPanels } from './panels/panels.js';
import { GameClient } from './protocol.js';
import { createSound } from './sound.js';
import { clockNews, clockTimes } from './state/clock.js';
import { applyEvent, applyHistory, applyWelcome } from './state/fold.js';
import { applyPresence, awayNews } from './state/presence.js';
import { moveRefusal } from './state/questions.js';
import { OVER, createState } from './state/state.js';
import { newsText } from './words/news.js';
import { ERRORS, SAYINGS, WATCHING_BECAUSE, connectionNotice, refusalText } from './words/notices.js';

const LOST_ANNOUNCE_AFTER_MS = 2000; // a blip that heals at once is not worth announcing
const REMATCH_DELAY_MS = 900; // long enough to read "Starting the rematch…"
const TICK_MS = 500;
const CLOCK_TICK_MS = 100; // a running clock shows tenths under ten seconds

const config = JSON.parse(document.getElementById('client-config').textContent);

const state = createState({
  seat: config.seat ?? null,
  status: document.body.dataset.status || 'waiting',
  claimAfterMs: typeof config.claimAfterSeconds === 'number' ? config.claimAfterSeconds * 1000 : null,
});
const board = createBoard(document.getElementById('board'), state, { onPlay: play });
const panels = createPanels(state, { gameId: config.gameId, inviteUrl: config.inviteUrl, onAction: act });
const clocks = createClocks(state);
const sound = createSound(document.getElementById('sound-toggle'));
const client = new GameClient(socketUrl(), {
  token: config.token || null,
  welcome: onWelcome,
  event: onEvent,
  ack: onAck,
  presence: onPresence,
  error: onError,
  lost: onLost,
});

function socketUrl() {
  return `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${config.socketPath}`;
}

function render() {
  board.render();
  panels.render();
  clocks.render();
}

// Say the news of a fold; a player whose opponent came back also gets a notice.
function say(news) {
  for (const item of news) {
    const text = newsText(state, item);
    if (!text) continue;
    panels.announce(text);
    if (item.notice) panels.notify(text, 'info');
  }
}

// ----- What the server says -------------------------------------------------------------------

let lostAnnounced = false; // "Connection lost" was said, so "Reconnected" will be

function onWelcome(message, { resent }) {
  const first = !state.welcomed;
  const hadRematch = !!state.rematchId;
  const news = applyWelcome(state, message);
  if (message.complete === false) loadHistory();
  // On the first load the history is old news; after a reconnect it is what we missed.
  if (!first) say(news);
  panels.showMoves();
  if (!first && lostAnnounced) panels.announce(SAYINGS.reconnected);
  state.connected = true;
  state.closed = '';
  state.busy = '';
  lostAnnounced = false;
  const presence = applyPresence(state, message.presence, { first });
  if (!first) say(presence);
  state.pending = resent; // a move sent before the connection dropped went out again
  render();
  // We missed the rematch while we were away: follow it now. (On a first visit, just offer the link.)
  if (!first && !hadRematch && state.rematchId) startRematch();
}

function onEvent(event) {
  state.pending = false;
  state.busy = ''; // whatever we asked for has been answered by this event, or overtaken by it
  panels.clearNotice(); // whatever it said is about a position that has moved on
  const wasOver = OVER.has(state.status);
  const news = applyEvent(state, event);
  // A sound as the game ends, and for a move that is not ours (never for our own).
  if (!wasOver && OVER.has(state.status)) sound.play('end');
  else if (event.type === 'move' && event.seat !== state.seat) sound.play('move');
  if (event.type === 'joined' && state.seat === null && panels.joinOffered) state.watchingBecause = 'seat_taken';
  say(news);
  panels.showMoves();
  render();
  if (event.type === 'move') board.drop(event.column, event.row);
  if (event.type === 'rematch') startRematch();
}

function onAck(message) {
  // A duplicate was played before we lost the connection; its event is already on the board.
  // Otherwise the move's event follows right away and lifts `pending`.
  if (message.duplicate) state.pending = false;
  render();
}

function onPresence(message) {
  say(applyPresence(state, message));
  render();
}

function onError(message) {
  state.pending = false;
  state.busy = '';
  if (message.code === 'bad_token') {
    // The client says hello again without the token: we carry on as a spectator.
    state.seat = null;
    state.watchingBecause = 'bad_token';
    panels.announce(WATCHING_BECAUSE.bad_token);
    render();
    return;
  }
  const text = ERRORS[message.code] || message.message || SAYINGS.refused;
  panels.notify(text);
  panels.announce(text);
  render();
}

// The connection is gone. The client reconnects by itself (unless the game does not exist).
let lostTimer = 0;

function onLost(reason) {
  const wasConnected = state.connected;
  state.connected = false;
  state.pending = false;
  state.busy = '';
  panels.disarm();
  if (wasConnected && !lostTimer) {
    lostTimer = setTimeout(() => {
      lostTimer = 0;
      if (state.connected || state.gone) return;
      lostAnnounced = true;
      panels.announce(connectionNotice(state, { offline: navigator.onLine === false }) || SAYINGS.lost);
    }, LOST_ANNOUNCE_AFTER_MS);
  }
  if (reason === 'unknown_game') {
    state.gone = true;
    panels.announce(SAYINGS.gone);
  } else if (reason === 'restarting' || reason === 'rate_limited' || reason === 'too_many_connections') {
    state.closed = reason;
  }
  render();
}

// After a welcome without the events we missed (too many, or the server's log is shorter than
// ours), rebuild the move list from the events API; the board already came from the snapshot.
let historyRequest = 0;

async function loadHistory() {
  const request = ++historyRequest;
  state.history = 'loading';
  panels.showMoves();
  let events;
  try {
    events = await fetchEvents(config.gameId);
  } catch {
    if (request === historyRequest) {
      state.history = 'failed';
      panels.showMoves();
    }
    return;
  }
  if (request !== historyRequest) return; // a newer welcome asked again
  state.history = '';
  applyHistory(state, events);
  panels.showMoves();
  render();
}

// ----- What the player does -------------------------------------------------------------------

function play(column) {
  if (state.pending) return;
  const refusal = moveRefusal(state, column);
  if (refusal) {
    panels.notify(refusalText(state, refusal, column));
    render();
    return;
  }
  state.pending = true;
  client.sendMove(column);
  render();
}

// Resign, abort, claim_win or rematch: wait for the answer before allowing another.
function act(type) {
  if (client.send({ type })) state.busy = type;
  render();
}

// Both agreed: say so, then follow everyone to the new game (players keep their seats, colours swapped).
function startRematch() {
  if (state.startingRematch || !state.rematchId) return;
  state.startingRematch = true;
  panels.announce(SAYINGS.startingRematch);
  render();
  // A spectator who came by the watch link follows to the rematch's watch link.
  const path = gamePath(state.rematchId) + (config.watching ? 'watch' : '');
  setTimeout(() => location.assign(path), REMATCH_DELAY_MS);
}

// Every half second: move the countdowns on, and say once when someone left and when the win can be claimed.
function tick() {
  if (state.status !== 'playing' || !state.connected) return;
  say(awayNews(state));
  panels.renderAway();
}

// ----- Start ----------------------------------------------------------------------------------

window.addEventListener('offline', () => client.networkLost());
window.addEventListener('online', () => client.reconnectNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') client.reconnectNow();
});
setInterval(tick, TICK_MS);

// Every tenth of a second while a clock runs: count it down from the server's latest figure,
// and say once when it runs low. The server's timeout (or abort) ends the game, never we.
function clockTick() {
  if (!clockTimes(state)?.running) return;
  say(clockNews(state));
  clocks.render();
}
setInterval(clockTick, CLOCK_TICK_MS);

render();
client.start();

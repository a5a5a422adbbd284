// The home page's entry: keeps the lobby's lists live (docs/protocol.md, "The lobby: /ws/lobby/").
//
// The server renders the lists with the page; the socket then sends them again whenever they
// change, and this script redraws them with the template's markup (rows.js). Rows are kept by
// game ID (sync.js), so a row that stays keeps its place (and a keyboard's focus on its button);
// only rows that come or go change. Lists read by different server processes can arrive out of
// order: the one with the greatest `as_of` wins. Nothing is announced to screen readers on every
// change: the lists are there to be read when wanted, and strangers' games come and go all the time.

import { LiveSocket } from '../shared/live-socket.js';
import { challengeRow, liveRow, updateChallenge, updateLive } from './rows.js';
import { sync } from './sync.js';

const LOST_SHOWN_AFTER_MS = 3000;

const $ = (id) => document.getElementById(id);
const challenges = $('challenges');
const challengesEmpty = $('challenges-empty');
const liveGames = $('live-games');
const liveEmpty = $('live-empty');
const lobby = $('lobby');
const lobbyNote = $('lobby-note');
const playControl = $('play-time-control');
const seekersLine = $('play-seekers');

let asOf = 0; // when the lists we show were read
let seekers = {}; // time control ("" untimed) -> people waiting

// ----- Seekers, beside Play now -------------------------------------------------------------

function showSeekers() {
  if (!seekersLine || !playControl) return;
  const control = playControl.value === 'untimed' ? '' : playControl.value;
  const count = seekers[control] || 0;
  const game = control ? `a ${control} game` : 'an untimed game';
  seekersLine.textContent =
    count === 1 ? `1 person is looking for ${game} right now.` : `${count} people are looking for ${game} right now.`;
  seekersLine.hidden = count === 0;
}

// ----- The socket ---------------------------------------------------------------------------

function onMessage(message) {
  if (message.type !== 'lobby') return;
  heard(); // the server sends the lists on every connect: until then, they may be old
  if (message.as_of < asOf) return;
  asOf = message.as_of;
  sync(challenges, message.challenges, challengeRow, updateChallenge);
  sync(liveGames, message.games, liveRow, updateLive);
  challengesEmpty.hidden = message.challenges.length > 0;
  liveEmpty.hidden = message.games.length > 0;
  seekers = message.seekers || {};
  showSeekers();
}

let lostTimer = 0;

function heard() {
  clearTimeout(lostTimer);
  lostTimer = 0;
  lobby.dataset.connected = 'true';
  lobbyNote.hidden = true;
}

function onLost() {
  lobby.dataset.connected = 'false';
  if (!lostTimer) {
    lostTimer = setTimeout(() => {
      lostTimer = 0;
      if (lobby.dataset.connected !== 'true') lobbyNote.hidden = false;
    }, LOST_SHOWN_AFTER_MS);
  }
}

const socket = new LiveSocket('/ws/lobby/', { message: onMessage, lost: onLost });

playControl?.addEventListener('change', showSeekers);
window.addEventListener('offline', () => socket.networkLost());
window.addEventListener('online', () => socket.reconnectNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') socket.reconnectNow();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted) socket.reconnectNow();
});

lobby.dataset.connected = 'false';
socket.start();

// The home page's entry: keeps the lobby's lists live (docs/protocol.md, "The lobby: /ws/lobby/").
//
// The server renders the lists with the page; the socket then sends them again whenever they
// change, and this script redraws them with the template's markup. Rows are kept by game ID, so
// a row that stays keeps its place (and a keyboard's focus on its button); only rows that come
// or go change. Lists read by different server processes can arrive out of order: the one with
// the greatest `as_of` wins. Nothing is announced to screen readers on every change: the lists
// are there to be read when wanted, and strangers' games come and go all the time.

import { LiveSocket } from '../shared/live-socket.js';

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
const csrfToken = document.querySelector('input[name="csrfmiddlewaretoken"]')?.value || '';

let asOf = 0; // when the lists we show were read
let seekers = {}; // time control ("" untimed) -> people waiting

const controlText = (timeControl) => timeControl || 'Untimed';
const gamePath = (gameId) => `/g/${encodeURIComponent(gameId)}/`;

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// ----- Rows, as templates/games/home.html renders them --------------------------------------

function challengeRow(challenge) {
  const row = element('li');
  row.dataset.gameId = challenge.id;
  const control = element('span', 'list-control');
  const form = element('form');
  form.method = 'post';
  form.action = `${gamePath(challenge.id)}join`;
  const csrf = element('input');
  csrf.type = 'hidden';
  csrf.name = 'csrfmiddlewaretoken';
  csrf.value = csrfToken;
  const button = element('button', 'button', 'Accept');
  button.type = 'submit';
  button.append(element('span', 'visually-hidden', ''));
  form.append(csrf, button);
  row.append(control, form);
  return row;
}

function updateChallenge(row, challenge) {
  const text = controlText(challenge.time_control);
  setText(row.querySelector('.list-control'), text);
  setText(row.querySelector('button .visually-hidden'), ` the ${text.toLowerCase()} challenge`);
}

function liveRow(game) {
  const row = element('li');
  row.dataset.gameId = game.id;
  const watch = element('a', 'button', 'Watch');
  watch.href = `${gamePath(game.id)}watch`;
  watch.append(element('span', 'visually-hidden', ''));
  row.append(element('span', 'list-control'), element('span', 'list-spectators'), watch);
  return row;
}

function updateLive(row, game) {
  const text = controlText(game.time_control);
  setText(row.querySelector('.list-control'), text);
  const computer = game.computer ? `Against the computer, level ${game.computer.level} · ` : '';
  setText(row.querySelector('.list-spectators'), `${computer}${game.spectators} watching`);
  setText(row.querySelector('a .visually-hidden'), ` the ${text.toLowerCase()} game${game.computer ? ' against the computer' : ''}`);
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

// Make `list` show `items` in order: rows kept by game ID, new ones made, gone ones removed.
function sync(list, items, make, update) {
  const rows = new Map([...list.children].map((row) => [row.dataset.gameId, row]));
  let previous = null;
  for (const item of items) {
    let row = rows.get(item.id);
    if (row) rows.delete(item.id);
    else row = make(item);
    update(row, item);
    const wanted = previous ? previous.nextElementSibling : list.firstElementChild;
    if (row !== wanted) list.insertBefore(row, wanted);
    previous = row;
  }
  for (const row of rows.values()) {
    // A keyboard on a row that goes (someone else accepted that challenge) moves to a neighbour.
    const focused = row.contains(document.activeElement);
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    if (focused) focusNear(list, next);
  }
}

function focusNear(list, row) {
  const control = row?.isConnected && row.querySelector('button, a');
  if (control) {
    control.focus();
    return;
  }
  const heading = $(list.closest('section').getAttribute('aria-labelledby'));
  heading.tabIndex = -1;
  heading.focus();
}

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

// The game page: one WebSocket to the server, and a board drawn from what it says.
//
// The server is the only judge of the game. This script never changes the board on
// its own; it sends a move and waits for the server's event, so every tab, player
// and spectator sees the same thing in the same order. Every server message carries
// `seq`, the game's sequence number; we keep the newest one we have applied, ignore
// anything older, and send it on reconnect so the server only resends what we missed.

const config = JSON.parse(document.getElementById('client-config').textContent);

const COLUMNS = 7;
const ROWS = 6;
const NAMES = { 1: 'Red', 2: 'Yellow' };
const OVER = new Set(['finished', 'aborted']);

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const PING_EVERY_MS = 20000;
const SILENT_LIMIT_MS = 45000; // no message for this long: the socket is dead, even if it looks open
const NOTICE_MS = 4000;
const CLOSE_UNKNOWN_GAME = 4404;

const $ = (id) => document.getElementById(id);
const el = {
  body: document.body,
  board: $('board'),
  columns: [...document.querySelectorAll('#board [data-column]')],
  status: $('status'),
  turnDisc: $('turn-disc'),
  statusBar: document.querySelector('.status-bar'),
  notice: $('notice'),
  you: $('you'),
  connection: $('connection'),
  opponent: $('opponent'),
  spectators: $('spectators'),
  spectatorsLabel: $('spectators-label'),
  players: { 1: $('player-1'), 2: $('player-2') },
  moves: $('moves'),
  movesEmpty: $('moves-empty'),
  invite: $('invite'),
  joinCard: $('join-card'),
  gameOver: $('game-over'),
  live: $('live'),
};
// cells[c][r], row 0 at the bottom, as the server counts them.
const cells = Array.from({ length: COLUMNS }, (_, c) =>
  Array.from({ length: ROWS }, (_, r) => document.querySelector(`[data-cell="${c},${r}"]`)),
);

const emptyBoard = () => Array.from({ length: ROWS }, () => Array(COLUMNS).fill(0));

const state = {
  seat: config.seat ?? null,
  token: config.token || null,
  seq: 0, // the newest seq applied; sent as last_seq on every hello
  welcomed: false, // true once the first welcome arrived
  connected: false,
  gone: false, // the server said the game does not exist: stop reconnecting
  status: document.body.dataset.status || 'waiting',
  turn: null,
  winner: null,
  line: [],
  reason: '',
  board: emptyBoard(), // board[row][column]
  last: null, // [column, row] of the newest disc
  players: { 1: false, 2: false },
  seenOnline: { 1: false, 2: false }, // "is back" only for someone we saw before
  spectators: 0,
  cursor: 3, // keyboard column cursor
  hover: null, // column under the mouse (tracked in JS, as :hover sticks after a tap on touch screens)
  pending: false, // a move is on its way; wait for the server before sending another
  listedSeq: 0, // newest event already in the move list (so nothing shows twice)
  stickyNotice: '', // a notice that stays until the situation changes
};

// ----- Words -----------------------------------------------------------------------

function roleText() {
  if (state.seat === 1) return 'You are Red (seat 1)';
  if (state.seat === 2) return 'You are Yellow (seat 2)';
  return 'You are watching';
}

function statusText() {
  if (state.gone) return 'This game does not exist.';
  if (!state.welcomed) return 'Connecting…';
  const { seat, turn, winner } = state;
  switch (state.status) {
    case 'waiting':
      return seat === 1 ? 'Waiting for an opponent to join…' : 'Waiting for a second player…';
    case 'playing':
      if (seat === turn) return 'Your turn';
      return seat ? `Waiting for ${NAMES[turn]}…` : `${NAMES[turn]} to move`;
    case 'finished':
      if (!winner) return 'Draw: the board is full.';
      if (seat === winner) return 'You win!';
      return seat ? `${NAMES[winner]} wins. Good game!` : `${NAMES[winner]} wins!`;
    case 'aborted':
      return state.reason ? `Game aborted: ${state.reason}` : 'Game aborted.';
    default:
      return '';
  }
}

function opponentText() {
  const { seat, players } = state;
  if (!state.connected) return state.welcomed ? 'Reconnecting to see who is here…' : 'Connecting…';
  if (!seat) {
    // Spectators see both seats in the list above; this line sums them up.
    if (state.status === 'waiting') return 'Waiting for Yellow to join';
    if (players[1] && players[2]) return 'Both players connected';
    if (!players[1] && !players[2]) return 'Both players away';
    return `${NAMES[players[1] ? 2 : 1]} is away`;
  }
  const other = seat === 1 ? 2 : 1;
  if (state.status === 'waiting' && other === 2) return 'No opponent yet';
  return players[other] ? 'Opponent connected' : 'Opponent away';
}

function seatState(seat) {
  if (seat === 2 && state.status === 'waiting') return 'seat free';
  if (!state.connected) return state.welcomed ? 'unknown' : '…'; // presence is stale while offline
  return state.players[seat] ? 'connected' : 'away';
}

function freeCells(column) {
  let free = 0;
  for (let r = 0; r < ROWS; r++) if (!state.board[r][column]) free++;
  return free;
}

function columnLabel(column) {
  const free = freeCells(column);
  const cellWord = free === 1 ? 'cell' : 'cells';
  return `Column ${column + 1}, ${free ? `${free} free ${cellWord}` : 'full'}`;
}

const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  gone: 'Disconnected',
};

function connectionState() {
  if (state.gone) return 'gone';
  if (state.connected) return 'connected';
  return state.welcomed ? 'reconnecting' : 'connecting';
}

// ----- Drawing -------------------------------------------------------------------------

const canPlay = () =>
  state.connected && state.status === 'playing' && state.seat !== null && state.turn === state.seat && !state.pending;

function render() {
  const over = OVER.has(state.status);
  const body = el.body.dataset;
  body.status = state.status;
  body.seq = String(state.seq);
  body.connected = String(state.connected);

  el.you.textContent = roleText();
  el.you.dataset.seat = state.seat ?? '';
  el.status.textContent = statusText();

  // The disc beside the status: whose move it is, or who won.
  const draw = state.status === 'finished' && !state.winner;
  const shownSeat = draw ? 'draw' : state.status === 'playing' ? state.turn : state.winner;
  if (shownSeat) el.turnDisc.dataset.seat = shownSeat;
  else delete el.turnDisc.dataset.seat;
  el.turnDisc.dataset.yours = String(canPlay());
  el.turnDisc.hidden = state.gone || state.status === 'aborted';
  el.statusBar.classList.toggle('over', over);
  el.statusBar.dataset.result = resultKind();

  const connection = connectionState();
  el.connection.textContent = CONNECTION_LABELS[connection];
  el.connection.dataset.state = connection;

  for (const seat of [1, 2]) {
    const item = el.players[seat];
    item.dataset.online = String(state.connected && state.players[seat]);
    item.querySelector('.player-state').textContent = seatState(seat);
    item.querySelector('.tag').hidden = state.seat !== seat;
  }
  el.opponent.textContent = opponentText();
  el.spectators.textContent = String(state.spectators);
  el.spectatorsLabel.textContent = state.spectators === 1 ? 'spectator' : 'spectators';

  if (el.invite) el.invite.hidden = !(state.seat === 1 && state.status === 'waiting');
  if (el.joinCard) el.joinCard.hidden = !(state.seat === null && state.status === 'waiting');
  el.gameOver.hidden = !over;

  renderBoard();
  renderNotice();
  document.title = `${canPlay() ? '● Your turn · ' : ''}Game ${config.gameId} · Four in a Row`;
}

function renderBoard() {
  const board = el.board;
  board.dataset.canPlay = String(canPlay());
  board.dataset.you = state.seat ?? '';
  const winning = new Set(state.line.map(([c, r]) => `${c},${r}`));
  board.classList.toggle('has-win', winning.size > 0);

  for (let c = 0; c < COLUMNS; c++) {
    const free = freeCells(c);
    const column = el.columns[c];
    column.setAttribute('aria-label', columnLabel(c));
    column.setAttribute('aria-disabled', String(!canPlay() || free === 0));
    column.classList.toggle('cursor', c === state.cursor);
    column.classList.toggle('hover', c === state.hover);
    for (let r = 0; r < ROWS; r++) {
      const cell = cells[c][r];
      const seat = state.board[r][c];
      if (seat) cell.dataset.seat = String(seat);
      else delete cell.dataset.seat;
      cell.classList.toggle('win', winning.has(`${c},${r}`));
      cell.classList.toggle('next', r === ROWS - free);
      cell.classList.toggle('last', !!state.last && state.last[0] === c && state.last[1] === r);
    }
  }
  board.setAttribute('aria-activedescendant', el.columns[state.cursor].id);
}

// Let a new disc fall from the top of its column to its cell.
function dropDisc(column, row) {
  const disc = cells[column][row].querySelector('.disc');
  const fall = el.columns[column].getBoundingClientRect().top - disc.getBoundingClientRect().top - disc.offsetHeight;
  const rowsFallen = ROWS - row;
  disc.style.transition = 'none';
  disc.style.transform = `translateY(${fall}px)`;
  void disc.offsetHeight; // commit the start position before the transition begins
  disc.style.transition = '';
  disc.style.setProperty('--fall', `${Math.round(110 * Math.sqrt(rowsFallen + 1))}ms`); // gravity: time grows like √distance
  disc.style.transform = '';
}

let noticeTimer = 0;

function notify(message) {
  clearTimeout(noticeTimer);
  el.notice.textContent = message;
  el.notice.hidden = false;
  noticeTimer = setTimeout(() => {
    noticeTimer = 0;
    renderNotice();
  }, NOTICE_MS);
}

function clearNotice() {
  clearTimeout(noticeTimer);
  noticeTimer = 0;
}

// A short-lived notice wins over the sticky one until it times out.
function renderNotice() {
  if (noticeTimer) return;
  const message = state.gone ? '' : !state.connected && state.welcomed ? 'Connection lost — reconnecting…' : state.stickyNotice;
  el.notice.textContent = message;
  el.notice.hidden = !message;
}

// Screen readers hear each message once; old ones are trimmed so the region stays small.
function announce(message) {
  const line = document.createElement('p');
  line.textContent = message;
  el.live.append(line);
  while (el.live.childElementCount > 5) el.live.firstElementChild.remove();
}

function listMove(event) {
  const item = document.createElement('li');
  item.dataset.seq = String(event.seq);
  const disc = document.createElement('span');
  disc.className = 'mini-disc';
  disc.dataset.seat = String(event.seat);
  disc.setAttribute('aria-hidden', 'true');
  item.append(disc, `${NAMES[event.seat]}: column ${event.column + 1}`);
  el.moves.append(item);
  el.movesEmpty.hidden = true;
  el.moves.scrollTop = el.moves.scrollHeight;
}

// ----- Applying what the server says ------------------------------------------------------

function takeSummary(message) {
  state.status = message.status;
  state.turn = message.turn ?? null;
  state.winner = message.winner ?? null;
  state.line = message.line || [];
}

// For styling the banner: "win" for the winner, "loss", "draw", "aborted", or "" while playing.
function resultKind() {
  if (state.status === 'aborted') return 'aborted';
  if (state.status !== 'finished') return '';
  if (!state.winner) return 'draw';
  if (!state.seat) return 'win'; // spectators just see who won
  return state.seat === state.winner ? 'win' : 'loss';
}

function resultText() {
  if (state.status === 'aborted') return statusText();
  if (!state.winner) return 'The game is a draw.';
  return state.seat === state.winner ? 'You win!' : `${NAMES[state.winner]} wins.`;
}

// What a screen reader hears for an event (and for a move, whose turn is next).
function describe(event) {
  switch (event.type) {
    case 'joined':
      return state.seat === 1 ? 'Yellow joined. Your turn.' : 'Yellow joined. Red to move.';
    case 'move': {
      let text = `${NAMES[event.seat]} played column ${event.column + 1}.`;
      if (OVER.has(event.status)) text += ` ${resultText()}`;
      else if (state.seat && event.turn === state.seat) text += ' Your turn.';
      return text;
    }
    case 'aborted':
      return event.reason ? `Game aborted: ${event.reason}` : 'Game aborted.';
    default:
      return '';
  }
}

// Add an event to the move list and the announcements, once.
function record(event, { speak }) {
  if (event.seq <= state.listedSeq) return;
  state.listedSeq = event.seq;
  if (event.type === 'move') listMove(event);
  if (event.type === 'aborted') state.reason = event.reason || '';
  if (speak) {
    const text = describe(event);
    if (text) announce(text);
  }
}

function onWelcome(message) {
  const first = !state.welcomed;
  state.seat = message.seat ?? null;
  const game = message.game;
  // The snapshot is the whole truth: rebuild the board from it rather than patching.
  state.board = game.board.map((row) => row.slice());
  takeSummary(game);
  for (const event of message.events || []) {
    if (event.type === 'move') state.last = [event.column, event.row];
    // On the first load the history is old news; after a reconnect it is what we missed.
    record(event, { speak: !first });
  }
  state.seq = message.seq;
  state.welcomed = true;
  state.connected = true;
  state.pending = false;
  retries = 0;
  applyPresence(message.presence, { speak: !first });
  render();
}

function onEvent(event) {
  if (event.seq <= state.seq) return; // already have it
  if (event.seq !== state.seq + 1) {
    // A gap: something was lost. Reconnect and let the welcome fill it in.
    restart();
    return;
  }
  state.seq = event.seq;
  state.pending = false;
  clearNotice(); // whatever it said is about a position that has moved on
  takeSummary(event);
  if (event.type === 'move') {
    state.board[event.row][event.column] = event.seat;
    state.last = [event.column, event.row];
  }
  if (event.type === 'joined' && state.seat === null && el.joinCard) {
    state.stickyNotice = 'Someone else took the free seat; you are watching.';
  }
  record(event, { speak: true });
  render();
  if (event.type === 'move') dropDisc(event.column, event.row);
}

function applyPresence(presence, { speak }) {
  if (!presence) return;
  const now = { 1: !!presence.players['1'], 2: !!presence.players['2'] };
  if (speak) {
    for (const seat of [1, 2]) {
      if (seat === state.seat || now[seat] === state.players[seat]) continue;
      // "left" only makes sense once the seat is taken; a join is announced by its event.
      if (seat === 2 && state.status === 'waiting') continue;
      if (!now[seat]) announce(`${NAMES[seat]} left.`);
      else if (state.seenOnline[seat]) announce(`${NAMES[seat]} is back.`);
    }
  }
  for (const seat of [1, 2]) state.seenOnline[seat] ||= now[seat];
  state.players = now;
  state.spectators = presence.spectators ?? 0;
}

function onError(message) {
  state.pending = false;
  if (message.code === 'bad_token') {
    // The seat we remembered is no longer valid: carry on as a spectator.
    state.token = null;
    state.seat = null;
    state.stickyNotice = 'Your seat could not be restored; you are watching.';
    announce(state.stickyNotice);
    send({ type: 'hello', last_seq: state.seq });
    render();
    return;
  }
  notify(message.message || 'The server refused that.');
  render();
}

function onMessage(raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    return;
  }
  switch (message.type) {
    case 'welcome':
      onWelcome(message);
      break;
    case 'created':
    case 'joined':
    case 'move':
    case 'aborted':
      if (state.welcomed) onEvent(message);
      break;
    case 'presence':
      applyPresence(message, { speak: true });
      render();
      break;
    case 'error':
      onError(message);
      break;
    default:
      break; // pong, seated: nothing to draw
  }
}

// ----- The connection ----------------------------------------------------------------------

let socket = null;
let retries = 0;
let retryTimer = 0;
let lastHeard = 0;

function socketUrl() {
  return `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${config.socketPath}`;
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (state.gone) return;
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener('open', () => {
    lastHeard = Date.now();
    // JSON.stringify leaves out an undefined token: no token means "let me watch".
    ws.send(JSON.stringify({ type: 'hello', token: state.token || undefined, last_seq: state.seq }));
  });
  ws.addEventListener('message', (event) => {
    if (ws !== socket) return;
    lastHeard = Date.now();
    onMessage(event.data);
  });
  ws.addEventListener('close', (event) => {
    if (ws !== socket) return; // a socket we already gave up on
    socket = null;
    state.connected = false;
    state.pending = false;
    if (event.code === CLOSE_UNKNOWN_GAME) {
      state.gone = true;
      announce('This game does not exist.');
    } else {
      scheduleReconnect();
    }
    render();
  });
}

// Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
function scheduleReconnect() {
  if (retryTimer || state.gone) return;
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** retries);
  retries += 1;
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  retryTimer = setTimeout(connect, delay);
}

// Drop the current socket (without waiting for a close that may never come) and start again.
function restart() {
  const old = socket;
  socket = null;
  state.connected = false;
  state.pending = false;
  if (old) old.close();
  render();
  connect();
}

// Keep idle connections alive through proxies, and notice ones that silently died.
setInterval(() => {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  if (Date.now() - lastHeard > SILENT_LIMIT_MS) restart();
  else send({ type: 'ping' });
}, PING_EVERY_MS);

// Coming back online or to the tab: do not sit out the rest of a long backoff.
function reconnectNow() {
  if (retryTimer) connect();
}
window.addEventListener('online', reconnectNow);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectNow();
});

// ----- Playing ---------------------------------------------------------------------------------

function play(column) {
  state.cursor = column;
  if (state.pending) return;
  let refusal = '';
  if (!state.connected) refusal = 'Not connected yet; wait a moment.';
  else if (state.seat === null) refusal = 'You are watching; only the two players can drop discs.';
  else if (state.status === 'waiting') refusal = 'Wait for a second player to join.';
  else if (OVER.has(state.status)) refusal = 'The game is over.';
  else if (state.turn !== state.seat) refusal = `It is ${NAMES[state.turn]}’s turn.`;
  else if (freeCells(column) === 0) refusal = `Column ${column + 1} is full.`;
  if (refusal) {
    notify(refusal);
    render();
    return;
  }
  if (send({ type: 'move', column })) state.pending = true;
  render();
}

for (const column of el.columns) {
  const index = Number(column.dataset.column);
  // Keep focus on the board (not the column button) so the arrow keys keep working.
  column.addEventListener('mousedown', (event) => event.preventDefault());
  column.addEventListener('click', () => play(index));
  column.addEventListener('pointerenter', (event) => {
    if (event.pointerType !== 'mouse') return;
    state.hover = index;
    renderBoard();
  });
}
el.board.addEventListener('pointerleave', () => {
  state.hover = null;
  renderBoard();
});

el.board.addEventListener('keydown', (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  let handled = true;
  if (event.key === 'ArrowLeft') state.cursor = Math.max(0, state.cursor - 1);
  else if (event.key === 'ArrowRight') state.cursor = Math.min(COLUMNS - 1, state.cursor + 1);
  else if (event.key === 'Home') state.cursor = 0;
  else if (event.key === 'End') state.cursor = COLUMNS - 1;
  else if (/^[1-7]$/.test(event.key)) state.cursor = Number(event.key) - 1;
  else if (event.key === 'Enter' || event.key === ' ') play(state.cursor);
  else handled = false;
  if (handled) {
    event.preventDefault();
    renderBoard();
  }
});

// ----- Sharing the link ----------------------------------------------------------------------------

async function copyFrom(input, button) {
  const original = button.textContent;
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    // No clipboard access (plain http, or refused): select the text so one keystroke copies it.
    input.focus();
    input.select();
  }
  const shortcut = /Mac|iPhone|iPad/.test(navigator.userAgent) ? '⌘C' : 'Ctrl+C';
  button.textContent = copied ? 'Copied!' : `Press ${shortcut}`;
  setTimeout(() => {
    button.textContent = original;
  }, 2000);
}

for (const button of document.querySelectorAll('[data-copy]')) {
  const input = $(button.dataset.copy);
  button.addEventListener('click', () => copyFrom(input, button));
  // One click selects the whole link, for people who copy by hand.
  input.addEventListener('focus', () => input.select());
}

const shareButton = $('share-invite');
if (shareButton && navigator.share) {
  shareButton.hidden = false;
  shareButton.addEventListener('click', () => {
    navigator
      .share({ title: 'Four in a Row', text: 'Play Four in a Row with me:', url: config.inviteUrl })
      .catch(() => {}); // the person closed the share sheet
  });
}

// ----- Start -----------------------------------------------------------------------------------------

render();
connect();

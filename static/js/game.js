// The game page: one WebSocket to the server, and a board drawn from what it says.
//
// The server is the only judge of the game. This script never changes the board on
// its own; it sends a move and waits for the server's event, so every tab, player
// and spectator sees the same thing in the same order. Every server message carries
// `seq`, the game's sequence number; we keep the newest one we have applied, ignore
// anything older, and send it on reconnect so the server only resends what we missed.
//
// Every move carries a fresh `move_id`. If the connection drops before the move is
// acknowledged, it is sent again after the reconnect unless the welcome shows it was
// already played; the server recognises the ID and never plays it twice.

const config = JSON.parse(document.getElementById('client-config').textContent);

const COLUMNS = 7;
const ROWS = 6;
const NAMES = { 1: 'Red', 2: 'Yellow' };
const OVER = new Set(['finished', 'aborted']);
const EVENTS = new Set(['created', 'joined', 'move', 'resigned', 'abandoned', 'aborted', 'rematch_offered', 'rematch']);

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const RATE_LIMITED_PAUSE_MS = 8000; // closed for sending too much: give it a rest before trying again
const PING_EVERY_MS = 20000;
const SILENT_LIMIT_MS = 45000; // no message for this long: the socket is dead, even if it looks open
const NOTICE_MS = 4000;
const CONFIRM_MS = 5000; // a second click within this confirms Resign or Abort
const AWAY_SHOW_AFTER_MS = 1500; // a quick reload is not worth a banner
const CLAIM_MARGIN_MS = 250; // our clock and the server's differ a little: do not offer the claim too early
const LOST_ANNOUNCE_AFTER_MS = 2000; // a blip that heals at once is not worth announcing
const REMATCH_DELAY_MS = 900; // long enough to read "Starting the rematch…"
const TICK_MS = 500;

const CLOSE_GOING_AWAY = 1001; // a deploy: the server restarts
const CLOSE_UNKNOWN_GAME = 4404;
const CLOSE_IDLE = 4408;
const CLOSE_RATE_LIMITED = 4429;

const $ = (id) => document.getElementById(id);
const el = {
  body: document.body,
  board: $('board'),
  columns: [...document.querySelectorAll('#board [data-column]')],
  status: $('status'),
  turnDisc: $('turn-disc'),
  statusBar: document.querySelector('.status-bar'),
  notice: $('notice'),
  awayPanel: $('away-panel'),
  awayIcon: document.querySelector('#away-panel .away-icon'),
  awayMessage: $('away-message'),
  awayDetail: $('away-detail'),
  claimButton: $('claim-button'),
  actions: $('game-actions'),
  abortButton: $('abort-button'),
  resignButton: $('resign-button'),
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
  rematchNote: $('rematch-note'),
  rematchButton: $('rematch-button'),
  playAgain: $('play-again'),
  live: $('live'),
};
// cells[c][r], row 0 at the bottom, as the server counts them.
const cells = Array.from({ length: COLUMNS }, (_, c) =>
  Array.from({ length: ROWS }, (_, r) => document.querySelector(`[data-cell="${c},${r}"]`)),
);

const emptyBoard = () => Array.from({ length: ROWS }, () => Array(COLUMNS).fill(0));
const otherSeat = (seat) => 3 - seat;

const state = {
  seat: config.seat ?? null,
  token: config.token || null,
  seq: 0, // the newest seq applied; sent as last_seq on every hello
  welcomed: false, // true once the first welcome arrived
  connected: false,
  gone: false, // the server said the game does not exist: stop reconnecting
  status: document.body.dataset.status || 'waiting',
  result: null, // null while playing; win, draw, resigned, abandoned or aborted
  turn: null,
  winner: null,
  line: [],
  reason: '', // why an aborted game was aborted
  abortedBy: null, // the seat that aborted it, or null for the server or an operator
  twoPlayers: false, // someone took seat 2 at some point (a rematch needs an opponent)
  board: emptyBoard(), // board[row][column]
  last: null, // [column, row] of the newest disc
  players: { 1: false, 2: false },
  seenOnline: { 1: false, 2: false }, // "is back" only for someone we saw before
  away: { 1: null, 2: null }, // a seat gone during play: {since, claimAt, forfeitAt, announced, claimAnnounced}
  spectators: 0,
  rematchOffers: new Set(),
  rematchId: null,
  startingRematch: false,
  cursor: 3, // keyboard column cursor
  hover: null, // column under the mouse (tracked in JS, as :hover sticks after a tap on touch screens)
  pending: false, // a move is on its way; wait for the server before sending another
  pendingMove: null, // {column, moveId}: sent, but neither acknowledged nor seen as an event yet
  busy: '', // resign, abort, claim or rematch was sent; wait for the answer
  confirm: null, // 'resign' or 'abort' while the button waits for its confirming click
  spokenSeq: 0, // newest event already announced (so nothing is said twice)
  listed: new Map(), // seq -> move event shown in the move list (so nothing shows twice)
  stickyNotice: '', // a notice that stays until the situation changes
  closeNote: '', // why the server closed the connection, shown while reconnecting
  lostAnnounced: false,
};

// ----- Words -----------------------------------------------------------------------

function roleText() {
  if (state.seat === 1) return 'You are Red (seat 1)';
  if (state.seat === 2) return 'You are Yellow (seat 2)';
  return 'You are watching';
}

// How a game ended, in words for this reader. Takes the fields of an event or of the state.
function outcomeText({ status, result, winner, actor = null, reason = '' }) {
  const me = state.seat;
  if (status === 'aborted') {
    if (actor && actor === me) return 'You aborted the game.';
    if (actor) return `${NAMES[actor]} aborted the game.`;
    return reason ? `Game aborted: ${reason}` : 'Game aborted.';
  }
  if (!winner) return 'Draw: the board is full.';
  const loser = otherSeat(winner);
  if (result === 'resigned') {
    if (me === winner) return `You win! ${NAMES[loser]} resigned.`;
    if (me === loser) return `You resigned — ${NAMES[winner]} wins.`;
    return `${NAMES[loser]} resigned — ${NAMES[winner]} wins.`;
  }
  if (result === 'abandoned') {
    if (me === winner) return `You win! ${NAMES[loser]} left the game.`;
    if (me === loser) return `You left the game — ${NAMES[winner]} wins.`;
    return `${NAMES[loser]} left the game — ${NAMES[winner]} wins.`;
  }
  if (me === winner) return 'You win!';
  return me ? `${NAMES[winner]} wins. Good game!` : `${NAMES[winner]} wins!`;
}

const stateOutcome = () => ({
  status: state.status,
  result: state.result,
  winner: state.winner,
  actor: state.abortedBy,
  reason: state.reason,
});

function statusText() {
  if (state.gone) return 'This game does not exist.';
  if (!state.welcomed) return 'Connecting…';
  if (state.startingRematch) return 'Starting the rematch…';
  const { seat, turn } = state;
  switch (state.status) {
    case 'waiting':
      return seat === 1 ? 'Waiting for an opponent to join…' : 'Waiting for a second player…';
    case 'playing':
      if (seat === turn) return 'Your turn';
      return seat ? `Waiting for ${NAMES[turn]}…` : `${NAMES[turn]} to move`;
    case 'finished':
    case 'aborted':
      return outcomeText(stateOutcome());
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
  const other = otherSeat(seat);
  if (state.status === 'waiting' && other === 2) return 'No opponent yet';
  if (OVER.has(state.status)) return players[other] ? `${NAMES[other]} is still here` : `${NAMES[other]} has left`;
  return players[other] ? `${NAMES[other]} is connected` : `${NAMES[other]} is away`;
}

function seatState(seat) {
  if (seat === 2 && state.status === 'waiting') return 'seat free';
  if (!state.connected) return state.welcomed ? 'unknown' : '…'; // presence is stale while offline
  return state.players[seat] ? 'connected' : 'away';
}

function discCount() {
  let count = 0;
  for (const row of state.board) for (const cell of row) if (cell) count++;
  return count;
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

// "42 s" under a minute, then whole minutes rounded up ("10 min").
function duration(seconds) {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

const secondsUntil = (time) => Math.max(0, Math.ceil((time - Date.now()) / 1000));

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
  body.result = state.result || '';
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
  el.opponent.dataset.away = String(el.opponent.textContent.includes('away'));
  el.spectators.textContent = String(state.spectators);
  el.spectatorsLabel.textContent = state.spectators === 1 ? 'spectator' : 'spectators';

  if (el.invite) el.invite.hidden = !(state.seat === 1 && state.status === 'waiting');
  if (el.joinCard) el.joinCard.hidden = !(state.seat === null && state.status === 'waiting');
  el.gameOver.hidden = !over;

  renderBoard();
  renderNotice();
  renderAway();
  renderActions();
  renderRematch();
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

// ----- Someone left: the countdown to claiming the win ---------------------------------------

// A seat counts as away once the server says so; the banner waits a moment, so a quick
// reload by the opponent does not flash it (and shift the board) for nothing.
function awayShown(seat) {
  const away = state.away[seat];
  return !!away && seat !== state.seat && Date.now() - away.since >= AWAY_SHOW_AFTER_MS;
}

// What the away banner says, or null when nobody is away (or we cannot know: offline).
function awayView() {
  if (state.status !== 'playing' || !state.connected) return null;
  if (state.seat) {
    const other = otherSeat(state.seat);
    if (!awayShown(other)) return null;
    const away = state.away[other];
    const name = NAMES[other];
    const claimIn = secondsUntil(away.claimAt);
    const forfeitIn = secondsUntil(away.forfeitAt);
    // Someone we never saw here (we arrived after they left, or a rematch they have not opened yet) is just away.
    const lead = state.seenOnline[other] ? `${name} left` : `${name} is away`;
    return {
      message: claimIn ? `${lead} — you can claim the win in ${duration(claimIn)}` : `${lead} — you can claim the win now`,
      detail: forfeitIn
        ? `If ${name} doesn’t come back, the game ends automatically in ${duration(forfeitIn)} and you win.`
        : 'The game is ending…',
      claimable: claimIn === 0,
      seat: other,
    };
  }
  const gone = [1, 2].filter(awayShown);
  if (gone.length === 0) return null;
  if (gone.length === 2) {
    const forfeitIn = secondsUntil(Math.min(state.away[1].forfeitAt, state.away[2].forfeitAt));
    return {
      message: 'Both players left',
      detail: forfeitIn ? `If neither comes back, the game is called off in ${duration(forfeitIn)}.` : 'The game is ending…',
      seat: null,
    };
  }
  const [seat] = gone;
  const away = state.away[seat];
  const claimIn = secondsUntil(away.claimAt);
  const forfeitIn = secondsUntil(away.forfeitAt);
  const stays = NAMES[otherSeat(seat)];
  return {
    message: `${NAMES[seat]} left — ${stays} can claim the win ${claimIn ? `in ${duration(claimIn)}` : 'now'}`,
    detail: forfeitIn
      ? `If ${NAMES[seat]} doesn’t come back, the game ends automatically in ${duration(forfeitIn)}.`
      : 'The game is ending…',
    seat,
  };
}

function renderAway() {
  const view = awayView();
  el.awayPanel.hidden = !view;
  el.claimButton.hidden = !view || !state.seat;
  if (!view) return;
  if (view.seat) el.awayIcon.dataset.seat = String(view.seat);
  else delete el.awayIcon.dataset.seat;
  if (el.awayMessage.textContent !== view.message) el.awayMessage.textContent = view.message;
  if (el.awayDetail.textContent !== view.detail) el.awayDetail.textContent = view.detail;
  el.claimButton.disabled = !view.claimable || !!state.busy;
}

// Every half second: move the countdowns on, and say once when someone left and when the win can be claimed.
function tick() {
  if (state.status !== 'playing' || !state.connected) return;
  let anyone = false;
  for (const seat of [1, 2]) {
    const away = state.away[seat];
    if (!away || seat === state.seat) continue;
    anyone = true;
    if (!awayShown(seat)) continue;
    if (!away.announced) {
      away.announced = true;
      const left = state.seenOnline[seat] ? `${NAMES[seat]} left.` : `${NAMES[seat]} is away.`;
      const claimIn = secondsUntil(away.claimAt);
      if (!state.seat) announce(left);
      else if (claimIn) announce(`${left} If they don’t come back, you can claim the win in ${duration(claimIn)}.`);
      else announce(`${left} You can claim the win.`);
      if (!claimIn) away.claimAnnounced = true;
    }
    if (state.seat && !away.claimAnnounced && Date.now() >= away.claimAt) {
      away.claimAnnounced = true;
      announce('You can claim the win now.');
    }
  }
  if (anyone) renderAway();
}

// ----- Resign, abort, rematch --------------------------------------------------------------------

const abortAllowed = () =>
  state.seat !== null && (state.status === 'waiting' || (state.status === 'playing' && discCount() < 2));
// Until both have moved, calling the game off is the kinder choice; Resign takes over after that.
const resignAllowed = () => state.seat !== null && state.status === 'playing' && discCount() >= 2;

const ACTION_LABELS = {
  abort: { idle: 'Abort game', armed: 'Really abort?' },
  resign: { idle: 'Resign', armed: 'Really resign?' },
};

function renderActions() {
  const buttons = { abort: el.abortButton, resign: el.resignButton };
  const allowed = { abort: abortAllowed(), resign: resignAllowed() };
  if (state.confirm && !allowed[state.confirm]) disarm();
  for (const [action, button] of Object.entries(buttons)) {
    const armed = state.confirm === action;
    button.hidden = !allowed[action];
    button.disabled = !state.connected || !!state.busy;
    button.dataset.armed = String(armed);
    const label = ACTION_LABELS[action][armed ? 'armed' : 'idle'];
    if (button.textContent !== label) button.textContent = label;
  }
  el.actions.hidden = !allowed.abort && !allowed.resign;
}

let confirmTimer = 0;

function disarm() {
  clearTimeout(confirmTimer);
  confirmTimer = 0;
  state.confirm = null;
}

// The first click arms the button ("Really resign?"); a second one within a few seconds sends.
function confirmAction(action, event) {
  // The second click of a double-click is not a decision.
  if (event.detail > 1) return;
  if (state.confirm !== action) {
    disarm();
    state.confirm = action;
    confirmTimer = setTimeout(() => {
      disarm();
      renderActions();
    }, CONFIRM_MS);
    const verb = action === 'resign' ? 'resign' : 'abort the game';
    announce(`Press the button again within ${CONFIRM_MS / 1000} seconds to ${verb}.`);
    renderActions();
    return;
  }
  disarm();
  if (send({ type: action })) state.busy = action;
  render();
}

el.resignButton.addEventListener('click', (event) => confirmAction('resign', event));
el.abortButton.addEventListener('click', (event) => confirmAction('abort', event));
for (const button of [el.resignButton, el.abortButton]) {
  button.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state.confirm) {
      disarm();
      renderActions();
    }
  });
}

el.claimButton.addEventListener('click', () => {
  if (send({ type: 'claim_win' })) state.busy = 'claim';
  render();
});

const rematchAllowed = () => state.seat !== null && state.twoPlayers && OVER.has(state.status);

function renderRematch() {
  const over = OVER.has(state.status);
  const button = el.rematchButton;
  const mine = state.seat !== null && state.rematchOffers.has(state.seat);
  const theirs = [...state.rematchOffers].find((seat) => seat !== state.seat) ?? null;

  button.hidden = !rematchAllowed() || !!state.rematchId;
  // aria-disabled rather than disabled: the button keeps keyboard focus while it waits.
  button.setAttribute('aria-disabled', String(!rematchPossible()));
  const label = mine ? 'Rematch offered' : theirs ? 'Accept rematch' : 'Rematch';
  if (button.textContent !== label) button.textContent = label;
  // The rematch, when there can be one, is the main way on; "New game" steps back beside it.
  el.playAgain.classList.toggle('button-primary', button.hidden || mine);

  let note = { text: '' };
  if (over && state.rematchId) {
    note = state.startingRematch
      ? { text: 'Starting the rematch…' }
      : { text: 'The rematch has started. ', link: rematchPath(state.rematchId) };
  } else if (over && mine) {
    note = { text: `Rematch offered — waiting for ${NAMES[otherSeat(state.seat)]}` };
  } else if (over && theirs) {
    note = { text: `${NAMES[theirs]} offers a rematch`, tone: state.seat ? 'invite' : '' };
  }
  // Rebuilt only when it changes, so a focused link is not pulled from under the keyboard.
  const key = JSON.stringify(note);
  if (el.rematchNote.dataset.key === key) return;
  el.rematchNote.dataset.key = key;
  el.rematchNote.dataset.tone = note.tone || '';
  el.rematchNote.replaceChildren(note.text);
  if (note.link) {
    const link = document.createElement('a');
    link.href = note.link;
    link.textContent = 'Go to the rematch';
    el.rematchNote.append(link);
  }
  el.rematchNote.hidden = !note.text;
}

const rematchPossible = () =>
  rematchAllowed() &&
  state.connected &&
  !state.busy &&
  !state.rematchId &&
  !state.rematchOffers.has(state.seat);

el.rematchButton.addEventListener('click', () => {
  if (!rematchPossible()) return;
  if (send({ type: 'rematch' })) state.busy = 'rematch';
  render();
});

function rematchPath(gameId) {
  return `/g/${encodeURIComponent(gameId)}/`;
}

// Both agreed: say so, then follow everyone to the new game (players keep their seats, colours swapped).
function startRematch() {
  if (state.startingRematch || !state.rematchId) return;
  state.startingRematch = true;
  announce('Starting the rematch…');
  render();
  setTimeout(() => location.assign(rematchPath(state.rematchId)), REMATCH_DELAY_MS);
}

// ----- Notices and announcements ---------------------------------------------------------------

let noticeTimer = 0;

function notify(message, tone = 'warn') {
  clearTimeout(noticeTimer);
  el.notice.textContent = message;
  el.notice.dataset.tone = tone;
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

function connectionNotice() {
  if (state.gone || state.connected || !state.welcomed) return '';
  if (state.closeNote) return state.closeNote;
  if (navigator.onLine === false) return 'You are offline — the game reconnects when the network is back.';
  return 'Connection lost — reconnecting…';
}

// A short-lived notice wins over the sticky one until it times out.
function renderNotice() {
  if (noticeTimer) return;
  const message = state.gone ? '' : connectionNotice() || state.stickyNotice;
  el.notice.textContent = message;
  el.notice.dataset.tone = 'warn';
  el.notice.hidden = !message;
}

// Screen readers hear each message once; old ones are trimmed so the region stays small.
function announce(message) {
  const line = document.createElement('p');
  line.textContent = message;
  el.live.append(line);
  while (el.live.childElementCount > 5) el.live.firstElementChild.remove();
}

// ----- The move list ---------------------------------------------------------------------------------

function moveItem(event) {
  const item = document.createElement('li');
  item.dataset.seq = String(event.seq);
  const disc = document.createElement('span');
  disc.className = 'mini-disc';
  disc.dataset.seat = String(event.seat);
  disc.setAttribute('aria-hidden', 'true');
  item.append(disc, `${NAMES[event.seat]}: column ${event.column + 1}`);
  return item;
}

// Add moves to the list, each once, in seq order, whether they come live or from the history API.
function listMoves(events) {
  let appendOnly = true;
  let newest = Math.max(0, ...state.listed.keys());
  for (const event of events) {
    if (event.type !== 'move' || state.listed.has(event.seq)) continue;
    state.listed.set(event.seq, event);
    if (event.seq < newest) appendOnly = false;
    else newest = event.seq;
    if (appendOnly) el.moves.append(moveItem(event));
  }
  if (!appendOnly) {
    const ordered = [...state.listed.values()].sort((a, b) => a.seq - b.seq);
    el.moves.replaceChildren(...ordered.map(moveItem));
  }
  renderMovesEmpty();
  el.moves.scrollTop = el.moves.scrollHeight;
}

// Below an empty list: why it is empty.
let historyState = ''; // '' (nothing to fetch), 'loading' or 'failed'

function renderMovesEmpty() {
  const texts = { loading: 'Loading moves…', failed: 'The earlier moves could not be loaded.' };
  el.movesEmpty.textContent = texts[historyState] || 'No moves yet.';
  el.movesEmpty.hidden = state.listed.size > 0 && !historyState;
}

function clearMoves() {
  state.listed.clear();
  el.moves.replaceChildren();
  renderMovesEmpty();
}

// After a welcome without the events we missed (too many, or the server's log is shorter than
// ours), rebuild the list from the history API; the board already came from the snapshot.
let historyRequest = 0;

async function loadHistory() {
  const request = ++historyRequest;
  historyState = 'loading';
  renderMovesEmpty();
  let events;
  try {
    const response = await fetch(`/api/games/${encodeURIComponent(config.gameId)}/events`, {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    ({ events } = await response.json());
  } catch {
    if (request === historyRequest) {
      historyState = 'failed';
      renderMovesEmpty();
    }
    return;
  }
  if (request !== historyRequest) return; // a newer welcome asked again
  historyState = '';
  const known = events.filter((event) => event.seq <= state.seq); // newer ones arrive on the socket
  for (const event of known) learn(event);
  listMoves(known);
  const lastMove = [...state.listed.values()].sort((a, b) => b.seq - a.seq)[0];
  if (lastMove && !state.last) state.last = [lastMove.column, lastMove.row];
  render();
}

// ----- Applying what the server says ------------------------------------------------------

function takeSummary(message) {
  state.status = message.status;
  state.result = message.result ?? null;
  state.turn = message.turn ?? null;
  state.winner = message.winner ?? null;
  state.line = message.line || [];
  // Only play proves an opponent: a game aborted while waiting never had one.
  if (state.status === 'playing' || state.status === 'finished') state.twoPlayers = true;
}

// What an event tells us beyond the summary every message repeats.
function learn(event) {
  switch (event.type) {
    case 'joined':
      state.twoPlayers = true;
      break;
    case 'aborted':
      state.reason = event.reason || '';
      state.abortedBy = event.seat ?? null;
      break;
    case 'rematch_offered':
      state.rematchOffers.add(event.seat);
      break;
    case 'rematch':
      state.rematchOffers = new Set([1, 2]);
      state.rematchId = event.game_id;
      break;
    default:
      break;
  }
}

// For styling the banner: "win" for the winner, "loss", "draw", "aborted", or "" while playing.
function resultKind() {
  if (state.status === 'aborted') return 'aborted';
  if (state.status !== 'finished') return '';
  if (!state.winner) return 'draw';
  if (!state.seat) return 'win'; // spectators just see who won
  return state.seat === state.winner ? 'win' : 'loss';
}

// What a screen reader hears for an event (and for a move, whose turn is next).
function describe(event) {
  const outcome = () => outcomeText({ ...event, actor: event.type === 'aborted' ? event.seat : null });
  switch (event.type) {
    case 'joined':
      return state.seat === 1 ? 'Yellow joined. Your turn.' : 'Yellow joined. Red to move.';
    case 'move': {
      let text = `${NAMES[event.seat]} played column ${event.column + 1}.`;
      if (OVER.has(event.status)) text += ` ${outcome()}`;
      else if (state.seat && event.turn === state.seat) text += ' Your turn.';
      return text;
    }
    case 'resigned':
    case 'abandoned':
    case 'aborted':
      return outcome();
    case 'rematch_offered':
      if (event.seat === state.seat) return `Rematch offered. Waiting for ${NAMES[otherSeat(event.seat)]}.`;
      return state.seat
        ? `${NAMES[event.seat]} offers a rematch. Press Accept rematch to play again.`
        : `${NAMES[event.seat]} offers a rematch.`;
    default:
      return ''; // created; rematch is announced as it starts
  }
}

// Take in an event's details and announce it, once.
function record(event, { speak }) {
  learn(event);
  if (event.seq <= state.spokenSeq) return;
  state.spokenSeq = event.seq;
  if (speak) {
    const text = describe(event);
    if (text) announce(text);
  }
}

// The move we sent is settled: played (its ack or event arrived), refused, or moot.
function settleMove() {
  state.pendingMove = null;
  state.pending = false;
}

function onWelcome(message) {
  const first = !state.welcomed;
  const hadRematch = !!state.rematchId;
  state.seat = message.seat ?? null;
  const game = message.game;
  const events = message.events || [];
  // The snapshot is the whole truth: rebuild the board from it rather than patching.
  state.board = game.board.map((row) => row.slice());
  takeSummary(game);
  state.rematchOffers = new Set(game.rematch_offers || []);
  state.rematchId = game.rematch_id ?? null;
  if (message.complete === false) {
    // Too far behind for a replay (or the server's log is shorter than ours): start the list afresh.
    clearMoves();
    state.last = null;
    state.spokenSeq = message.seq;
    loadHistory();
  }
  for (const event of events) {
    if (event.type === 'move') state.last = [event.column, event.row];
    // On the first load the history is old news; after a reconnect it is what we missed.
    record(event, { speak: !first });
  }
  listMoves(events);
  state.seq = message.seq;
  if (!first && state.lostAnnounced) announce('Reconnected.');
  state.welcomed = true;
  state.connected = true;
  state.closeNote = '';
  state.lostAnnounced = false;
  state.busy = '';
  retries = 0;
  applyPresence(message.presence, { speak: !first, first });

  // A move sent just before the connection dropped: send it again unless it got through.
  state.pending = false;
  const pendingMove = state.pendingMove;
  if (pendingMove) {
    const seen = events.some((event) => event.move_id === pendingMove.moveId);
    if (seen || state.status !== 'playing' || state.seat === null) settleMove();
    else if (send({ type: 'move', column: pendingMove.column, move_id: pendingMove.moveId })) state.pending = true;
  }
  render();
  // We missed the rematch while we were away: follow it now. (On a first visit, just offer the link.)
  if (!first && !hadRematch && state.rematchId) startRematch();
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
  if (state.pendingMove && (event.move_id === state.pendingMove.moveId || OVER.has(event.status))) settleMove();
  state.busy = ''; // whatever we asked for has been answered by this event, or overtaken by it
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
  listMoves([event]);
  render();
  if (event.type === 'move') dropDisc(event.column, event.row);
  if (event.type === 'rematch') startRematch();
}

function onAck(message) {
  if (!state.pendingMove || message.move_id !== state.pendingMove.moveId) return;
  state.pendingMove = null;
  // A duplicate was played before we lost the connection; its event is already on the board.
  // Otherwise the move's event follows right away and lifts `pending`.
  if (message.duplicate) state.pending = false;
  render();
}

function applyPresence(presence, { speak, first = false }) {
  if (!presence) return;
  const now = { 1: !!presence.players['1'], 2: !!presence.players['2'] };
  const at = Date.now();
  for (const seat of [1, 2]) {
    const away = presence.away?.[String(seat)];
    const before = state.away[seat];
    if (away) {
      state.away[seat] = {
        // Someone already away when we arrive gets the banner at once.
        since: before?.since ?? (first ? at - AWAY_SHOW_AFTER_MS : at),
        claimAt: at + away.claim_in * 1000 + CLAIM_MARGIN_MS,
        forfeitAt: at + away.forfeit_in * 1000,
        announced: before?.announced ?? first,
        claimAnnounced: before?.claimAnnounced ?? (first && away.claim_in === 0),
      };
    } else {
      state.away[seat] = null;
    }
    if (!speak || seat === state.seat || now[seat] === state.players[seat]) continue;
    // "left" only makes sense once the seat is taken; a join is announced by its event.
    if (seat === 2 && state.status === 'waiting') continue;
    if (!now[seat]) {
      if (!away) announce(`${NAMES[seat]} left.`); // during play the countdown says it, a moment later
    } else if (before?.announced || (!before && state.seenOnline[seat])) {
      announce(`${NAMES[seat]} is back.`);
      if (state.seat && before?.announced) notify(`${NAMES[seat]} is back.`, 'info');
    }
  }
  for (const seat of [1, 2]) state.seenOnline[seat] ||= now[seat];
  state.players = now;
  state.spectators = presence.spectators ?? 0;
}

function onError(message) {
  state.pendingMove = null;
  state.pending = false;
  state.busy = '';
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
  const text = message.message || 'The server refused that.';
  notify(text);
  announce(text);
  render();
}

function onMessage(raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    return;
  }
  if (message.type === 'welcome') onWelcome(message);
  else if (EVENTS.has(message.type)) {
    if (state.welcomed) onEvent(message);
  } else if (message.type === 'ack') onAck(message);
  else if (message.type === 'presence') {
    applyPresence(message, { speak: true });
    render();
  } else if (message.type === 'error') onError(message);
  // pong, seated: nothing to draw
}

// ----- The connection ----------------------------------------------------------------------

let socket = null;
let retries = 0;
let retryTimer = 0;
let lastHeard = 0;
let lostTimer = 0;

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
    lost();
    switch (event.code) {
      case CLOSE_UNKNOWN_GAME:
        state.gone = true;
        announce('This game does not exist.');
        break;
      case CLOSE_GOING_AWAY: // a deploy: the new server is up in moments
        state.closeNote = 'Server restarting — reconnecting…';
        retries = 0;
        scheduleReconnect();
        break;
      case CLOSE_IDLE: // we said nothing for too long (a sleeping tab): just come back
        retries = 0;
        scheduleReconnect();
        break;
      case CLOSE_RATE_LIMITED:
        state.closeNote = 'Too many messages — reconnecting in a moment…';
        scheduleReconnect(RATE_LIMITED_PAUSE_MS);
        break;
      default:
        scheduleReconnect();
    }
    render();
  });
}

// The connection is gone, for whatever reason. The pending move is kept, to resend after the welcome.
function lost() {
  const wasConnected = state.connected;
  state.connected = false;
  state.pending = false;
  state.busy = '';
  disarm();
  if (wasConnected && !lostTimer) {
    lostTimer = setTimeout(() => {
      lostTimer = 0;
      if (state.connected || state.gone) return;
      state.lostAnnounced = true;
      announce(connectionNotice() || 'Connection lost. Reconnecting…');
    }, LOST_ANNOUNCE_AFTER_MS);
  }
}

// Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
function scheduleReconnect(pause = 0) {
  if (retryTimer || state.gone) return;
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** retries);
  retries += 1;
  const delay = pause + ceiling / 2 + Math.random() * (ceiling / 2);
  retryTimer = setTimeout(connect, delay);
}

// Let go of the current socket at once, without waiting for a close that may never come.
function drop() {
  const old = socket;
  socket = null;
  lost();
  if (old) old.close();
  render();
}

// Drop the current socket and start again.
function restart() {
  drop();
  connect();
}

// Keep idle connections alive through proxies, and notice ones that silently died.
setInterval(() => {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  if (Date.now() - lastHeard > SILENT_LIMIT_MS) restart();
  else send({ type: 'ping' });
}, PING_EVERY_MS);

// The browser knows the network is gone, while the socket may look open for a long time. Close it
// now: the close usually still reaches the server, so the opponent sees at once that we left.
window.addEventListener('offline', () => {
  if (!socket) return;
  drop();
  scheduleReconnect();
});

// Coming back online or to the tab: do not sit out the rest of a long backoff.
function reconnectNow() {
  if (!retryTimer) return;
  retries = 0;
  connect();
}
window.addEventListener('online', reconnectNow);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectNow();
});

setInterval(tick, TICK_MS);

// ----- Playing ---------------------------------------------------------------------------------

// A fresh ID for every move. crypto.randomUUID needs a secure context (https or localhost),
// so a game opened by its LAN address over plain http falls back to getRandomValues.
function newMoveId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

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
  // Remember the move until the server confirms it: if the socket dies first, it is sent again.
  state.pendingMove = { column, moveId: newMoveId() };
  state.pending = true;
  send({ type: 'move', column, move_id: state.pendingMove.moveId });
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

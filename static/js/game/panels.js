// Everything on the game page around the board: the status line, who is here, the away banner
// and its Claim button, Resign and Abort (each asks for a second click), the rematch, notices,
// the move list, the invite and watch links, and the live region screen readers hear.
//
// It draws the state and reports button presses to onAction; it never sends anything, never
// changes the game's state, and keeps only what its controls need (a button waiting for its
// confirming click, a notice's timer, which moves are listed).

import { gamePath } from './protocol.js';
import {
  abortAllowed,
  canPlay,
  connectionState,
  rematchAllowed,
  rematchPossible,
  resignAllowed,
  resultKind,
} from './state/questions.js';
import { OVER, otherSeat } from './state/state.js';
import { awayView } from './words/away.js';
import { NAMES, Who, who } from './words/names.js';
import { WATCHING_BECAUSE, connectionNotice } from './words/notices.js';
import { CONNECTION_LABELS, opponentText, roleText, seatStateText, statusText } from './words/status.js';

const NOTICE_MS = 4000;
const CONFIRM_MS = 5000; // a second click within this confirms Resign or Abort
const COPIED_MS = 2000;

const ACTION_LABELS = {
  abort: { idle: 'Abort game', armed: 'Really abort?' },
  resign: { idle: 'Resign', armed: 'Really resign?' },
};

// onAction(type): a player pressed resign, abort, claim_win or rematch (and confirmed it, where asked).
export function createPanels(state, { gameId, inviteUrl, onAction }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    body: document.body,
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

  // ----- The whole page ------------------------------------------------------------------------

  function render() {
    const over = OVER.has(state.status);
    const body = el.body.dataset;
    body.status = state.status;
    body.result = state.result || '';
    body.seq = String(state.seq);
    body.connected = String(state.connected);

    el.you.textContent = roleText(state);
    el.you.dataset.seat = state.seat ?? '';
    el.status.textContent = statusText(state);

    // The disc beside the status: whose move it is, or who won.
    const draw = state.status === 'finished' && !state.winner;
    const shownSeat = draw ? 'draw' : state.status === 'playing' ? state.turn : state.winner;
    if (shownSeat) el.turnDisc.dataset.seat = shownSeat;
    else delete el.turnDisc.dataset.seat;
    el.turnDisc.dataset.yours = String(canPlay(state));
    el.turnDisc.hidden = state.gone || state.status === 'aborted';
    el.statusBar.classList.toggle('over', over);
    el.statusBar.dataset.result = resultKind(state);

    const connection = connectionState(state);
    el.connection.textContent = CONNECTION_LABELS[connection];
    el.connection.dataset.state = connection;

    for (const seat of [1, 2]) {
      const item = el.players[seat];
      item.dataset.online = String(state.connected && state.players[seat]);
      item.querySelector('.player-state').textContent = seatStateText(state, seat);
      item.querySelector('.tag').hidden = state.seat !== seat;
    }
    el.opponent.textContent = opponentText(state);
    el.opponent.dataset.away = String(el.opponent.textContent.includes('away'));
    el.spectators.textContent = String(state.spectators);
    el.spectatorsLabel.textContent = state.spectators === 1 ? 'spectator' : 'spectators';

    if (el.invite) el.invite.hidden = !(state.seat !== null && state.status === 'waiting');
    if (el.joinCard) el.joinCard.hidden = !(state.seat === null && state.status === 'waiting');
    el.gameOver.hidden = !over;

    renderNotice();
    renderAway();
    renderActions();
    renderRematch();
    document.title = `${canPlay(state) ? '● Your turn · ' : ''}Game ${gameId} · Four in a Row`;
  }

  // ----- Someone left: the countdown to claiming the win ----------------------------------------

  function renderAway() {
    const view = awayView(state);
    el.awayPanel.hidden = !view;
    el.claimButton.hidden = !view || !state.seat;
    if (!view) return;
    if (view.seat) el.awayIcon.dataset.seat = String(view.seat);
    else delete el.awayIcon.dataset.seat;
    if (el.awayMessage.textContent !== view.message) el.awayMessage.textContent = view.message;
    if (el.awayDetail.textContent !== view.detail) el.awayDetail.textContent = view.detail;
    el.claimButton.disabled = !view.claimable || !!state.busy;
  }

  el.claimButton.addEventListener('click', () => onAction('claim_win'));

  // ----- Resign and abort: the first click arms the button, a second one within a few seconds sends ----

  let confirm = null; // 'resign' or 'abort' while the button waits for its confirming click
  let confirmTimer = 0;

  function disarm() {
    clearTimeout(confirmTimer);
    confirmTimer = 0;
    confirm = null;
  }

  function renderActions() {
    const buttons = { abort: el.abortButton, resign: el.resignButton };
    const allowed = { abort: abortAllowed(state), resign: resignAllowed(state) };
    if (confirm && !allowed[confirm]) disarm();
    for (const [action, button] of Object.entries(buttons)) {
      const armed = confirm === action;
      button.hidden = !allowed[action];
      button.disabled = !state.connected || !!state.busy;
      button.dataset.armed = String(armed);
      const label = ACTION_LABELS[action][armed ? 'armed' : 'idle'];
      if (button.textContent !== label) button.textContent = label;
    }
    el.actions.hidden = !allowed.abort && !allowed.resign;
  }

  function confirmAction(action, event) {
    // The second click of a double-click is not a decision.
    if (event.detail > 1) return;
    if (confirm !== action) {
      disarm();
      confirm = action;
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
    onAction(action);
  }

  el.resignButton.addEventListener('click', (event) => confirmAction('resign', event));
  el.abortButton.addEventListener('click', (event) => confirmAction('abort', event));
  for (const button of [el.resignButton, el.abortButton]) {
    button.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && confirm) {
        disarm();
        renderActions();
      }
    });
  }

  // ----- Rematch ---------------------------------------------------------------------------------

  function renderRematch() {
    const over = OVER.has(state.status);
    const button = el.rematchButton;
    const mine = state.seat !== null && state.rematchOffers.has(state.seat);
    const theirs = [...state.rematchOffers].find((seat) => seat !== state.seat) ?? null;

    // Against the computer, Play again is the rematch: one button, not two doing the same.
    button.hidden = !rematchAllowed(state) || !!state.rematchId || !!state.computer;
    // aria-disabled rather than disabled: the button keeps keyboard focus while it waits.
    button.setAttribute('aria-disabled', String(!rematchPossible(state)));
    const label = mine ? 'Rematch offered' : theirs ? 'Accept rematch' : 'Rematch';
    if (button.textContent !== label) button.textContent = label;
    // The rematch, when there can be one, is the main way on; Play again steps back beside it.
    el.playAgain.classList.toggle('button-primary', button.hidden || mine);

    let note = { text: '' };
    if (over && state.rematchId) {
      note = state.startingRematch
        ? { text: 'Starting the rematch…' }
        : { text: 'The rematch has started. ', link: gamePath(state.rematchId) };
    } else if (over && mine) {
      note = { text: `Rematch offered — waiting for ${who(state, otherSeat(state.seat))}` };
    } else if (over && theirs) {
      note = { text: `${Who(state, theirs)} offers a rematch`, tone: state.seat ? 'invite' : '' };
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

  el.rematchButton.addEventListener('click', () => {
    if (rematchPossible(state)) onAction('rematch');
  });

  // ----- Notices and announcements ---------------------------------------------------------------

  let noticeTimer = 0;

  // A short-lived notice: it wins over the lasting one until it times out.
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

  function renderNotice() {
    if (noticeTimer) return;
    const offline = navigator.onLine === false;
    const message = state.gone ? '' : connectionNotice(state, { offline }) || WATCHING_BECAUSE[state.watchingBecause] || '';
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

  // ----- The move list ---------------------------------------------------------------------------

  let listed = []; // the seqs of the moves in the list, in order

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

  // List the state's moves in seq order: new ones are appended, and the list is rebuilt only
  // when a move arrived out of order (from the events API) or the state started afresh.
  function showMoves() {
    const ordered = [...state.moves.values()].sort((a, b) => a.seq - b.seq);
    const appending = listed.length <= ordered.length && listed.every((seq, i) => ordered[i].seq === seq);
    if (appending) el.moves.append(...ordered.slice(listed.length).map(moveItem));
    else el.moves.replaceChildren(...ordered.map(moveItem));
    listed = ordered.map((event) => event.seq);

    // Below an empty list: why it is empty.
    const texts = { loading: 'Loading moves…', failed: 'The earlier moves could not be loaded.' };
    el.movesEmpty.textContent = texts[state.history] || 'No moves yet.';
    el.movesEmpty.hidden = state.moves.size > 0 && !state.history;
    el.moves.scrollTop = el.moves.scrollHeight;
  }

  // ----- Sharing the link ------------------------------------------------------------------------

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
    }, COPIED_MS);
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
        .share({ title: 'Four in a Row', text: 'Play Four in a Row with me:', url: inviteUrl })
        .catch(() => {}); // the person closed the share sheet
    });
  }

  return {
    render,
    renderAway,
    showMoves,
    announce,
    notify,
    clearNotice,
    disarm,
    joinOffered: !!el.joinCard, // the page offered this visitor the free seat
  };
}

// The game page's status: the page's data attributes, who you are, the status line and its disc,
// the connection's label, who is here (each seat, the opponent line, spectators), which card
// shows (the invite, the free seat, the game's end) and the tab's title.
//
// It draws the state (../state/) in the words of ../words/status.js; it has no controls.

import { canPlay, connectionState, resultKind } from '../state/questions.js';
import { OVER } from '../state/state.js';
import { CONNECTION_LABELS, opponentText, roleText, seatStateText, statusText } from '../words/status.js';

export function createStatus(state, { gameId }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    body: document.body,
    status: $('status'),
    turnDisc: $('turn-disc'),
    statusBar: document.querySelector('.status-bar'),
    you: $('you'),
    connection: $('connection'),
    opponent: $('opponent'),
    spectators: $('spectators'),
    spectatorsLabel: $('spectators-label'),
    players: { 1: $('player-1'), 2: $('player-2') },
    invite: $('invite'),
    joinCard: $('join-card'),
    gameOver: $('game-over'),
  };

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

    document.title = `${canPlay(state) ? '● Your turn · ' : ''}Game ${gameId} · Four in a Row`;
  }

  return {
    render,
    joinOffered: !!el.joinCard, // the page offered this visitor the free seat
  };
}

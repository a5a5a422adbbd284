// Everything on the game page around the board, one panel per file: the status line and who is
// here (status.js), the away banner and its Claim button (away.js), Resign and Abort, each asking
// for a second click (actions.js), the rematch (rematch.js), notices (notice.js), the move list
// (moves.js), the invite and watch links (share.js), and the live region screen readers hear
// (live-region.js). This module puts them together for the page's entry.
//
// The panels draw the state and report button presses to onAction; they never send anything,
// never change the game's state, and keep only what their controls need (a button waiting for its
// confirming click, a notice's timer, which moves are listed).

import { createActions } from './actions.js';
import { createAwayPanel } from './away.js';
import { createLiveRegion } from './live-region.js';
import { createMoveList } from './moves.js';
import { createNotice } from './notice.js';
import { createRematch } from './rematch.js';
import { setUpSharing } from './share.js';
import { createStatus } from './status.js';

// onAction(type): a player pressed resign, abort, claim_win or rematch (and confirmed it, where asked).
export function createPanels(state, { gameId, inviteUrl, onAction }) {
  const live = createLiveRegion();
  const status = createStatus(state, { gameId });
  const notice = createNotice(state);
  const away = createAwayPanel(state, { onAction });
  const actions = createActions(state, { onAction, announce: live.announce });
  const rematch = createRematch(state, { onAction });
  const moves = createMoveList(state);
  setUpSharing({ inviteUrl });

  // The whole page, every panel.
  function render() {
    status.render();
    notice.render();
    away.render();
    actions.render();
    rematch.render();
  }

  return {
    render,
    renderAway: away.render,
    showMoves: moves.show,
    announce: live.announce,
    notify: notice.notify,
    clearNotice: notice.clearNotice,
    disarm: actions.disarm,
    joinOffered: status.joinOffered, // the page offered this visitor the free seat
  };
}

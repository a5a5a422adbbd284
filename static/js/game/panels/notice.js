// The notice under the status line: a short-lived one (a refused move, an error) that wins until it
// times out, else the lasting one (not connected, or why you only watch), else nothing.
//
// Its words come from ../words/notices.js.

import { WATCHING_BECAUSE, connectionNotice } from '../words/notices.js';

const NOTICE_MS = 4000;

export function createNotice(state) {
  const el = { notice: document.getElementById('notice') };

  let noticeTimer = 0;

  // A short-lived notice: it wins over the lasting one until it times out.
  function notify(message, tone = 'warn') {
    clearTimeout(noticeTimer);
    el.notice.textContent = message;
    el.notice.dataset.tone = tone;
    el.notice.hidden = false;
    noticeTimer = setTimeout(() => {
      noticeTimer = 0;
      render();
    }, NOTICE_MS);
  }

  function clearNotice() {
    clearTimeout(noticeTimer);
    noticeTimer = 0;
  }

  function render() {
    if (noticeTimer) return;
    const offline = navigator.onLine === false;
    const message = state.gone ? '' : connectionNotice(state, { offline }) || WATCHING_BECAUSE[state.watchingBecause] || '';
    el.notice.textContent = message;
    el.notice.dataset.tone = 'warn';
    el.notice.hidden = !message;
  }

  return { render, notify, clearNotice };
}

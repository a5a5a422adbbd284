// The lobby's rows, as templates/games/home.html renders them: an open challenge (its time
// control and Accept, a form that posts to the game's join), and a game being played (its time
// control, who watches, and Watch). Made once per game, then filled in again as the lists change.

const csrfToken = document.querySelector('input[name="csrfmiddlewaretoken"]')?.value || '';

const controlText = (timeControl) => timeControl || 'Untimed';
const gamePath = (gameId) => `/g/${encodeURIComponent(gameId)}/`;

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

export function challengeRow(challenge) {
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

export function updateChallenge(row, challenge) {
  const text = controlText(challenge.time_control);
  setText(row.querySelector('.list-control'), text);
  setText(row.querySelector('button .visually-hidden'), ` the ${text.toLowerCase()} challenge`);
}

export function liveRow(game) {
  const row = element('li');
  row.dataset.gameId = game.id;
  const watch = element('a', 'button', 'Watch');
  watch.href = `${gamePath(game.id)}watch`;
  watch.append(element('span', 'visually-hidden', ''));
  row.append(element('span', 'list-control'), element('span', 'list-spectators'), watch);
  return row;
}

export function updateLive(row, game) {
  const text = controlText(game.time_control);
  setText(row.querySelector('.list-control'), text);
  const computer = game.computer ? `Against the computer, level ${game.computer.level} · ` : '';
  setText(row.querySelector('.list-spectators'), `${computer}${game.spectators} watching`);
  setText(row.querySelector('a .visually-hidden'), ` the ${text.toLowerCase()} game${game.computer ? ' against the computer' : ''}`);
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

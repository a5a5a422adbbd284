// Keeping a list's rows in step with the server's: rows are kept by game ID, so a row that stays
// keeps its place (and a keyboard's focus on its button); only rows that come or go change.

const $ = (id) => document.getElementById(id);

// Make `list` show `items` in order: rows kept by game ID, new ones made, gone ones removed.
export function sync(list, items, make, update) {
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

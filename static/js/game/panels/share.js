// Sharing the game's links: each Copy button copies its link (or selects it, to copy by hand), a
// click in a link's box selects it whole, and Share opens the system's share sheet where there is one.

const COPIED_MS = 2000;

export function setUpSharing({ inviteUrl }) {
  const $ = (id) => document.getElementById(id);

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
}

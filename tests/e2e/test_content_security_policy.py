"""The pages work under their Content-Security-Policy: nothing the browser refuses, in play or in the admin.

Every page that ``new_page`` opens fails its test on any violation (tests/e2e/conftest.py);
these tests also show that the policy is really in force, and that a violation would be seen.
"""

import re

from playwright.sync_api import expect

from tests.e2e.test_play_in_browsers import play, start_and_join
from tests.servers import manage

# Adds an inline script, as an injected script would, and answers which directive refused it.
INJECT_INLINE_SCRIPT = """
() => new Promise((resolve) => {
  document.addEventListener('securitypolicyviolation', (event) => resolve(event.violatedDirective), {once: true});
  setTimeout(() => resolve('no violation reported'), 5000);
  const script = document.createElement('script');
  script.textContent = 'window.injectedScriptRan = true;';
  document.body.append(script);
})
"""


def test_a_game_is_played_with_no_violation_and_an_inline_script_is_refused(new_page, server):
    red = new_page()
    response = red.goto(server.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and f"ws://127.0.0.1:{server.port}" in policy
    red.close()

    red, yellow, _ = start_and_join(new_page, server)
    play(red, yellow, [3, 4])  # both players' moves reach every screen over the WebSocket
    expect(yellow.locator("#moves li")).to_have_count(2)
    assert red.csp_violations == [] and yellow.csp_violations == []

    # The page's configuration is a JSON data block: read, never run, so the policy allows it.
    assert red.evaluate("JSON.parse(document.getElementById('client-config').textContent).seat") == 1

    # A check of the check: an injected inline script is refused, and the tests hear of it.
    assert red.evaluate(INJECT_INLINE_SCRIPT) == "script-src-elem"
    assert red.evaluate("window.injectedScriptRan") is None
    assert any("script-src" in violation for violation in red.csp_violations)
    red.csp_violations.clear()


def test_the_admin_works_under_the_policy(new_page, server):
    env = {**server.env, "DJANGO_SUPERUSER_PASSWORD": "csp-operator-password"}
    manage(env, "createsuperuser", "--no-input", "--username", "csp-operator", "--email", "op@example.com")
    red, yellow, invite = start_and_join(new_page, server)
    play(red, yellow, [3])
    game_id = re.search(r"/g/(\w+)/", invite).group(1)

    operator = new_page()
    login = operator.goto(server.url + "/admin/login/")
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    operator.fill("#id_username", "csp-operator")
    operator.fill("#id_password", "csp-operator-password")
    operator.click("input[type=submit]")
    expect(operator.locator("#user-tools")).to_contain_text("csp-operator")

    operator.goto(f"{server.url}/admin/games/game/{game_id}/change/")
    board = operator.locator("table.game-board")
    expect(board.locator("td.seat-1")).to_have_count(1)
    # The board's look comes from a stylesheet now, not from style attributes.
    assert board.evaluate("table => getComputedStyle(table).borderCollapse") == "collapse"
    assert board.locator("td.seat-1").evaluate("td => getComputedStyle(td).color") == "rgb(200, 16, 46)"

    operator.goto(f"{server.url}/admin/games/game/")
    expect(operator.locator("#result_list")).to_contain_text(game_id)
    operator.goto(f"{server.url}/admin/axes/accesslog/")  # the login audit trail
    expect(operator.locator("#result_list")).to_contain_text("csp-operator")

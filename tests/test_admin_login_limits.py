"""Admin logins are limited per address and per user name (django-axes); operators read the
attempts in the admin and unlock a login there or with a command.

The rule (config/settings.py): after 5 failed logins from one address, whatever the names, or
as one user name, whatever the addresses, logins from that address and as that name are
refused, even with the right password, for 15 minutes after the last attempt.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import AsyncClient, Client

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-password"
LOCKED = b"Login locked: too many failed attempts."


@pytest.fixture(autouse=True)
def operators(django_user_model, settings):
    # A fast hash: these tests count logins, and the real one costs about a second each here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name in ("operator", "other"):
        django_user_model.objects.create_superuser(name, f"{name}@example.com", PASSWORD)


def log_in(username, password=PASSWORD, address="10.0.0.1"):
    """A login form sent from ``address``; the client (and its session) is returned with the answer."""
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def logged_in(username, address="10.0.0.1") -> bool:
    client, response = log_in(username, address=address)
    if response.status_code == 302 and response.url == "/admin/":
        return client.get("/admin/").status_code == 200
    assert response.status_code == 429 and LOCKED in response.content, response.content[:500]
    return False


def fail(times, username="operator", address="10.0.0.1"):
    return [log_in(username, "wrong", address)[1] for _ in range(times)]


def test_five_wrong_passwords_lock_the_login_even_with_the_right_one():
    answers = fail(5)
    for answer in answers[:4]:  # the usual message, the form again
        assert answer.status_code == 200 and b"Please enter the correct username and password" in answer.content
    locked = answers[4]
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Login locked: too many failed attempts." in page
    assert "refused for 15 minutes, even with the right password" in page
    assert "frame-ancestors 'none'" in locked["Content-Security-Policy"]
    assert not logged_in("operator")


def test_four_wrong_passwords_and_a_right_one_let_the_operator_in_and_start_the_count_again():
    fail(4)
    assert logged_in("operator")
    fail(4)  # the success cleared the first four
    assert logged_in("operator")


def test_the_address_is_limited_whatever_names_it_tries():
    for name in ("admin", "root", "operator1", "op", "staff"):
        fail(1, username=name, address="10.0.0.9")
    assert not logged_in("operator", address="10.0.0.9")
    assert not logged_in("other", address="10.0.0.9")
    assert logged_in("operator", address="10.0.0.10")  # the same user from elsewhere is not held back


def test_the_user_name_is_limited_whatever_addresses_it_comes_from():
    for n in range(5):
        fail(1, username="operator", address=f"10.0.1.{n}")
    assert not logged_in("operator", address="10.0.2.1")  # a sixth address is refused too
    assert logged_in("other", address="10.0.1.0")  # another user from one of those addresses gets in


def test_the_lock_ends_after_the_cool_off():
    fail(5)
    assert not logged_in("operator")
    # Fifteen minutes pass: the attempts are as old as that (rather than waiting for the clock).
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))
    assert logged_in("operator")


def test_the_admin_lists_the_attempts_and_logins(admin_client):
    fail(5)
    fail(2, username="root", address="10.0.0.7")  # a guessed name
    assert logged_in("other", address="10.0.0.8")
    attempts = admin_client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200
    rows = [row for row in attempts.content.decode().split("<tr") if "field-username" in row]
    assert len(rows) == 2
    (locked,) = [row for row in rows if ">operator<" in row]
    assert "10.0.0.1" in locked and '<td class="field-failures_since_start">5</td>' in locked
    (guessed,) = [row for row in rows if ">root<" in row]
    assert "10.0.0.7" in guessed and '<td class="field-failures_since_start">2</td>' in guessed
    logins = admin_client.get("/admin/axes/accesslog/").content.decode()
    assert "10.0.0.8" in logins and ">other<" in logins  # the successful login is logged too


def test_an_operator_unlocks_a_login_in_the_admin(admin_client):
    fail(5)
    assert not logged_in("operator")
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username="operator").values_list("pk", flat=True)]
    response = admin_client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert response.status_code == 302
    assert logged_in("operator")


def test_the_reset_command_unlocks_a_login():
    fail(5)
    assert not logged_in("operator")
    call_command("axes_reset_username", "operator")
    assert logged_in("operator")
    fail(5, username="other", address="10.0.0.5")
    assert not logged_in("other", address="10.0.0.5")
    call_command("axes_reset")
    assert logged_in("other", address="10.0.0.5")


async def test_the_lock_holds_on_the_asgi_stack_the_server_runs():
    """Under ASGI (as daphne serves the admin) axes' middleware runs its async path."""
    client = AsyncClient()
    for _ in range(5):
        await client.post("/admin/login/?next=/admin/", {"username": "operator", "password": "wrong"})
    refused = await client.post("/admin/login/?next=/admin/", {"username": "operator", "password": PASSWORD})
    assert refused.status_code == 429 and LOCKED in refused.content
    assert "Content-Security-Policy" in refused


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(settings):
    """nginx's own address is not the client's: with it trusted, the forwarded address is counted."""
    settings.GAME_TRUSTED_PROXIES = ["127.0.0.1"]

    def through_proxy(client_address, password):
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return client.post("/admin/login/?next=/admin/", {"username": "other", "password": password})

    for _ in range(5):
        through_proxy("203.0.113.7", "wrong")
    assert through_proxy("203.0.113.7", PASSWORD).status_code == 429
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").exists()
    assert not AccessAttempt.objects.filter(ip_address="127.0.0.1").exists()
    call_command("axes_reset_username", "other")  # the name is locked too, by the rule above
    answer = through_proxy("198.51.100.2", PASSWORD)
    assert answer.status_code == 302 and answer.url == "/admin/"

"""The login check under --auth and the auth file's roles (pure pieces of the app)."""

import asyncio

import pytest

from workbench.app import access


def test_each_wrong_password_in_a_row_waits_longer(monkeypatch):
    waits = []

    async def record(seconds):
        waits.append(seconds)

    monkeypatch.setattr(access.asyncio, "sleep", record)
    check = access.slowed_login([("ann", "pw")])
    answers = [asyncio.run(check("ann", guess)) for guess in ("a", "b", "c", "pw", "d")]
    assert answers == [False, False, False, True, False]
    assert waits == [1.0, 2.0, 3.0, 1.0], "a right password resets the count"
    for _ in range(20):
        asyncio.run(check("mallory", "x"))
    assert waits[-1] == access.MAX_LOGIN_DELAY


def test_auth_file_roles(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# people\nfrank:se:cret\nann:pw:annotator\nrita:x:researcher\n")
    pairs, who = access.read_auth(users)
    assert pairs == [("frank", "se:cret"), ("ann", "pw"), ("rita", "x")]
    assert who.annotators == {"ann"}
    users.write_text("ann::annotator\n")  # no password
    with pytest.raises(ValueError, match="user:password"):
        access.read_auth(users)

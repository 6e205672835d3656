"""Who sees what under `--auth`: researchers see every tab; annotators see the battles only
(Vote, and Annotate's rollout pairs), so nothing in the app can show them which source a
battle's video came from. Without `--auth` everyone is a researcher."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr
from gradio.context import LocalContext

from workbench.errors import WorkbenchError

ROLES = ("researcher", "annotator")


@dataclass(frozen=True)
class Access:
    annotators: frozenset[str] = field(default_factory=frozenset)

    def is_annotator(self, request: gr.Request | None) -> bool:
        return getattr(request, "username", None) in self.annotators

    def researchers_only(self, handler: Callable) -> Callable:
        """The handler, refusing annotators: through the page and through the HTTP API alike
        (hiding a tab alone would leave its endpoints open). The caller is read from the
        request of the event being run (Gradio's LocalContext, as its ChatInterface reads it),
        so handlers keep their signatures."""

        @functools.wraps(handler)
        def run(*args, **kwargs):
            if self.is_annotator(LocalContext.request.get(None)):
                raise WorkbenchError("annotators see the Vote and Annotate battles only")
            return handler(*args, **kwargs)

        return run


def read_auth(path) -> tuple[list[tuple[str, str]], Access]:
    """`user:password` (a researcher) or `user:password:annotator` per line; blank lines and
    # comments skipped."""
    pairs, annotators = [], set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        head, colon, role = password.rpartition(":")
        if colon and role in ROLES:
            password = head
            if role == "annotator":
                annotators.add(user)
        if not sep or not user or not password:
            raise ValueError(f"{path}: lines must be user:password[:annotator], got {line!r}")
        pairs.append((user, password))
    return pairs, Access(frozenset(annotators))


MAX_LOGIN_DELAY = 10.0  # seconds


def slowed_login(pairs: list[tuple[str, str]]) -> Callable:
    """Gradio's login check: each wrong password in a row for a user waits a second longer
    (up to MAX_LOGIN_DELAY) before it is refused, so guessing a password takes days, not
    minutes; the wait does not hold up anyone else's requests."""
    passwords = dict(pairs)
    failures: dict[str, int] = {}

    async def check(user: str, password: str) -> bool:
        if user in passwords and secrets.compare_digest(passwords[user], password):
            failures.pop(user, None)
            return True
        failures[user] = failures.get(user, 0) + 1
        await asyncio.sleep(min(float(failures[user]), MAX_LOGIN_DELAY))
        return False

    return check

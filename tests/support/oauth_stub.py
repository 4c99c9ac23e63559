"""Slack's OAuth side on a FakeSlack: oauth.v2.access (code and refresh_token grants) and an
auth.test that answers, per bearer token, with that token's own workspace.

It registers its handlers in the FakeSlack's ``_methods`` and wraps its ``_answer`` so a handler
can read the call's bearer token (FakeSlack hands handlers only the parameters). A token this
stub issued and then revoked (uninstalled, or replaced by a refresh) is refused as Slack does.
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.slack_stub import APP_ID, BOT_ID, BOT_USER_ID, FakeSlack

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "0123456789abcdef0123456789abcdef"
INSTALLER = "U0INSTALLER"
SCOPES = "commands,chat:write,usergroups:read"

JsonDict = dict[str, Any]


@dataclass
class Grant:
    """One workspace's (or org's) consent, as Slack holds it."""

    team_id: str | None
    team_name: str | None
    enterprise_id: str | None
    enterprise_name: str | None
    org_wide: bool
    # Seconds a token lives when the app has token rotation on; None: tokens never expire.
    expires_in: int | None


class OAuthSlack:
    """Attach to a running FakeSlack: ``OAuthSlack(fake)``; ``grant(...)`` gives a code."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self._counter = itertools.count(1)
        self._local = threading.local()
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.revoked: set[str] = set()
        fake._methods["oauth.v2.access"] = self._oauth_v2_access
        fake._methods["auth.test"] = self._auth_test
        original = fake._answer

        def answer(method: str, params: JsonDict, headers: dict[str, str]) -> JsonDict:
            self._local.authorization = next(
                (v for k, v in headers.items() if k.lower() == "authorization"), ""
            )
            if method == "oauth.v2.access":
                # Client credentials in HTTP Basic auth, not a bearer token.
                return self._oauth_v2_access(params)
            if self._bearer() in self.revoked:
                return {"ok": False, "error": "invalid_auth"}
            return original(method, params, headers)

        fake._answer = answer  # type: ignore[method-assign]

    # -- what a test sets up ---------------------------------------------------------------

    def grant(
        self,
        team_id: str | None,
        *,
        team_name: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        org_wide: bool = False,
        expires_in: int | None = None,
    ) -> str:
        """A code for the redirect, as Slack gives one when a person approves the install."""
        code = f"code-{next(self._counter)}"
        self.codes[code] = Grant(
            team_id, team_name, enterprise_id, enterprise_name, org_wide, expires_in
        )
        return code

    def revoke_team(self, team_id: str | None, enterprise_id: str | None = None) -> None:
        """Slack revokes every token of a workspace or org (the app was uninstalled)."""
        for token, grant in self.tokens.items():
            if grant.team_id == team_id and grant.enterprise_id == enterprise_id:
                self.revoked.add(token)

    def tokens_of(self, team_id: str | None) -> list[str]:
        return [t for t, g in self.tokens.items() if g.team_id == team_id]

    # -- reading the calls ------------------------------------------------------------------

    def _bearer(self) -> str:
        value = str(getattr(self._local, "authorization", "") or "")
        return value[len("Bearer ") :].strip() if value.startswith("Bearer ") else ""

    def _client_ok(self) -> bool:
        value = str(getattr(self._local, "authorization", "") or "")
        if not value.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(value[len("Basic ") :]).decode()
        except ValueError:
            return False
        return decoded == f"{CLIENT_ID}:{CLIENT_SECRET}"

    # -- the methods (called with FakeSlack's lock held) ------------------------------------

    def _issue(self, grant: Grant) -> JsonDict:
        number = next(self._counter)
        token = f"xoxb-{grant.team_id or grant.enterprise_id}-{number}"
        self.tokens[token] = grant
        answer: JsonDict = {"access_token": token, "token_type": "bot"}
        if grant.expires_in is not None:
            refresh = f"xoxe-1-{grant.team_id or grant.enterprise_id}-{number}"
            self.refresh_tokens[refresh] = grant
            answer.update({"refresh_token": refresh, "expires_in": grant.expires_in})
        return answer

    def _oauth_v2_access(self, params: JsonDict) -> JsonDict:
        if not self._client_ok():
            return {"ok": False, "error": "invalid_client_id"}
        if params.get("grant_type") == "refresh_token":
            refresh = str(params.get("refresh_token") or "")
            grant = self.refresh_tokens.pop(refresh, None)
            if grant is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            # The token it replaces stops working: the bot must use the new one.
            self.revoked.update(t for t, g in self.tokens.items() if g is grant)
            return {"ok": True, **self._issue(grant)}
        grant = self.codes.pop(str(params.get("code") or ""), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": INSTALLER},
            "scope": SCOPES,
            "bot_user_id": BOT_USER_ID,
            "team": {"id": grant.team_id, "name": grant.team_name} if grant.team_id else None,
            "enterprise": (
                {"id": grant.enterprise_id, "name": grant.enterprise_name}
                if grant.enterprise_id
                else None
            ),
            "is_enterprise_install": grant.org_wide,
            **self._issue(grant),
        }

    def _auth_test(self, params: JsonDict) -> JsonDict:
        grant = self.tokens.get(self._bearer())
        if grant is None:
            return {"ok": False, "error": "invalid_auth"}
        return {
            "ok": True,
            "url": "https://partner.slack.com/",
            "team": grant.team_name,
            "user": "payments",
            "team_id": grant.team_id,
            "enterprise_id": grant.enterprise_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": grant.org_wide,
        }

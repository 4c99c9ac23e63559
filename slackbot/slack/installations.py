"""The app's installations in many workspaces: slack_sdk's SQLAlchemy stores, tokens encrypted.

slack_sdk's ``SQLAlchemyInstallationStore`` and ``SQLAlchemyOAuthStateStore`` on the bot's own
database, in slack_sdk's own tables (created by our migration 0005, never by ``create_tables``).
What this module adds to them:

- bot, user and refresh tokens are encrypted with Fernet (``TOKEN_ENCRYPTION_KEY``; several keys
  for rotation: the first encrypts, every one decrypts) on save and decrypted on find;
- a workspace of an Enterprise Grid org finds the org-wide installation, and a team id finds its
  installation whatever org a payload names (team ids are unique across Slack);
- which installation a signed payload was meant for (bolt-python issue 767: an external person
  in a Slack Connect channel acts from a workspace that never installed the app);
- the install pages, in plain words.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import sqlalchemy
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.state_utils import OAuthStateUtils
from sqlalchemy import and_, desc
from sqlalchemy.engine import Engine

from models.workspaces import OAUTH_STATES_TABLE, slack_bots, slack_installations

__all__ = [
    "TARGET_KEY",
    "EncryptedInstallationStore",
    "InstallationTarget",
    "SignedPayloadAuthorize",
    "TokenCipher",
    "answer_install_route",
    "install_pages",
    "installation_target",
    "page",
    "state_store",
    "target_middleware",
]

log = logging.getLogger(__name__)

INSTALLATION_TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
BOT_TOKENS = ("bot_token", "bot_refresh_token")
# Where the target of a request is put in Bolt's context before authorization.
TARGET_KEY = "installation_target"
STATE_EXPIRATION_SECONDS = 600


class TokenCipher:
    """Fernet over ``TOKEN_ENCRYPTION_KEY``: the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEY: at least one Fernet key is needed")
        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])

    def seal(self, token: str | None) -> str | None:
        return None if token is None else self._fernet.encrypt(token.encode()).decode("ascii")

    def open(self, sealed: str | None) -> str | None:
        """The token; :class:`InvalidToken` when no key of ours encrypted it."""
        return None if sealed is None else self._fernet.decrypt(sealed.encode("ascii")).decode()

    def reseal(self, sealed: str) -> str:
        """The same token encrypted under the first key (MultiFernet.rotate)."""
        return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")


def _sealed(record: Any, cipher: TokenCipher, fields: Sequence[str]) -> Any:
    copy = type(record)(**record.to_dict_for_copying())
    for name in fields:
        setattr(copy, name, cipher.seal(getattr(record, name)))
    return copy


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy store on our tables, with every token encrypted at rest."""

    def __init__(self, client_id: str, engine: Engine, cipher: TokenCipher) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=log)
        # The same columns as slack_sdk's, declared once in models.workspaces (wider tokens).
        self.installations = slack_installations
        self.bots = slack_bots
        self.cipher = cipher

    def create_tables(self) -> None:
        raise RuntimeError("the schema is the migrations' (slackbot db upgrade)")

    # -- save: slack_sdk's upsert by installed_at (so a token rotation updates the row) --

    def save(self, installation: Installation) -> None:
        sealed = _sealed(installation, self.cipher, INSTALLATION_TOKENS)
        row = sealed.to_dict()
        row["client_id"] = self.client_id
        for name in ("installed_at", "bot_token_expires_at", "user_token_expires_at"):
            row[name] = normalize_datetime_for_db(row.get(name))
        c = self.installations.c
        with self.engine.begin() as conn:
            existing = conn.execute(
                sqlalchemy.select(c.id)
                .where(
                    and_(
                        c.client_id == self.client_id,
                        c.enterprise_id == installation.enterprise_id,
                        c.team_id == installation.team_id,
                        c.installed_at == row["installed_at"],
                    )
                )
                .limit(1)
            ).scalar()
            if existing is None:
                conn.execute(self.installations.insert(), row)
            else:
                conn.execute(self.installations.update().where(c.id == existing).values(**row))
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(_sealed(bot, self.cipher, BOT_TOKENS))

    # -- find: decrypt; the org-wide installation and the team's own, whatever org is named --

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        row = self._latest(self.bots, enterprise_id, team_id, bool(is_enterprise_install))
        return None if row is None else self._opened(self.build_bot_entity(row), BOT_TOKENS)

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        org_wide = bool(is_enterprise_install)
        row = self._latest(self.installations, enterprise_id, team_id, org_wide, user_id)
        if row is None:
            return None
        found: Installation | None = self._opened(
            self.build_installation_entity(row), INSTALLATION_TOKENS
        )
        if found is not None and (user_id is not None or found.bot_token is None):
            # As slack_sdk does: the latest bot token, which may be another installer's
            # (bolt-python issue 664).
            bot = self.find_bot(
                enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=org_wide
            )
            if bot is not None and bot.bot_token != found.bot_token:
                found.bot_id, found.bot_user_id = bot.bot_id, bot.bot_user_id
                found.bot_token, found.bot_scopes = bot.bot_token, bot.bot_scopes
                found.bot_refresh_token = bot.bot_refresh_token
                found.bot_token_expires_at = bot.bot_token_expires_at
        return found

    def _latest(
        self,
        table: sqlalchemy.Table,
        enterprise_id: str | None,
        team_id: str | None,
        org_wide: bool,
        user_id: str | None = None,
    ) -> Any:
        """The latest row for the workspace, else its org's org-wide installation, else the
        workspace's own whatever org the payload named (a Slack Connect payload names the
        person's org, not the one of the workspace that installed the app: team ids are unique
        across Slack)."""
        c = table.c
        wheres = []
        for org, team in _places(enterprise_id, team_id, org_wide):
            wheres.append(and_(c.enterprise_id == org, c.team_id == team))
        if team_id is not None and not org_wide:
            wheres.append(c.team_id == team_id)
        for where in wheres:
            query = table.select().where(c.client_id == self.client_id, where)
            if user_id is not None:
                query = query.where(c.user_id == user_id)
            if table is self.bots:
                query = query.where(c.bot_token.is_not(None))
            with self.engine.connect() as conn:
                row = conn.execute(query.order_by(desc(c.installed_at)).limit(1)).mappings().first()
            if row is not None:
                return row
        return None

    def _opened(self, record: Any, fields: Sequence[str]) -> Any:
        if record is None:
            return None
        try:
            for name in fields:
                setattr(record, name, self.cipher.open(getattr(record, name)))
        except InvalidToken:
            log.error(
                "the stored token of %s cannot be decrypted with TOKEN_ENCRYPTION_KEY (a key"
                " that encrypted it was removed?): treated as not installed",
                record.team_id or record.enterprise_id,
            )
            return None
        return record

    # -- revocation and key rotation --

    def forget_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """The bot token was revoked: drop it everywhere it is stored (installations too), in
        one transaction, so no reader finds the bot row gone and the installation still holding
        the token."""
        c = self.installations.c
        b = self.bots.c
        with self.engine.begin() as conn:
            conn.execute(
                self.bots.delete().where(
                    and_(
                        b.client_id == self.client_id,
                        b.enterprise_id == enterprise_id,
                        b.team_id == team_id,
                    )
                )
            )
            conn.execute(
                self.installations.update()
                .where(
                    and_(
                        c.client_id == self.client_id,
                        c.enterprise_id == enterprise_id,
                        c.team_id == team_id,
                    )
                )
                .values(bot_token=None, bot_refresh_token=None, bot_token_expires_at=None)
            )

    def forget_user_tokens(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str
    ) -> None:
        """A person's user token was revoked: drop it, keeping the row's bot token."""
        c = self.installations.c
        with self.engine.begin() as conn:
            conn.execute(
                self.installations.update()
                .where(
                    and_(
                        c.client_id == self.client_id,
                        c.enterprise_id == enterprise_id,
                        c.team_id == team_id,
                        c.user_id == user_id,
                    )
                )
                .values(user_token=None, user_refresh_token=None, user_token_expires_at=None)
            )

    def reencrypt_all(self) -> int:
        """Encrypt every stored token under the first key; returns how many rows changed.

        Run after putting a new key first in TOKEN_ENCRYPTION_KEY (old keys still listed);
        once it has run, the old keys can be removed.
        """
        changed = 0
        with self.engine.begin() as conn:
            for table, fields in (
                (self.installations, INSTALLATION_TOKENS),
                (self.bots, BOT_TOKENS),
            ):
                for row in conn.execute(table.select()).mappings().all():
                    values = {name: self.cipher.reseal(row[name]) for name in fields if row[name]}
                    if values:
                        conn.execute(table.update().where(table.c.id == row["id"]).values(values))
                        changed += 1
        return changed

    def installed_teams(self) -> list[str]:
        """The workspaces and orgs that have a bot token stored (for the start line)."""
        c = self.bots.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.select(c.team_id, c.enterprise_id, c.is_enterprise_install)
                .where(and_(c.client_id == self.client_id, c.bot_token.is_not(None)))
                .distinct()
            ).all()
        return sorted({(e if org else t) or "?" for t, e, org in rows})


def _places(
    enterprise_id: str | None, team_id: str | None, org_wide: bool
) -> list[tuple[str | None, str | None]]:
    """(org, team) to look for, in order: what was asked, then its org's org-wide installation."""
    if org_wide or team_id is None:
        return [(enterprise_id, None)]
    places: list[tuple[str | None, str | None]] = [(enterprise_id, team_id)]
    if enterprise_id:
        places.append((enterprise_id, None))
    return places


def state_store(engine: Engine) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS,
        engine=engine,
        logger=log,
        table_name=OAUTH_STATES_TABLE,
    )


# ------------------------------------------------------- which installation a request is for


@dataclasses.dataclass(frozen=True)
class InstallationTarget:
    """The installation a signed payload was meant for."""

    enterprise_id: str | None
    team_id: str | None
    is_enterprise_install: bool


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.isascii() and value.isalnum() else None


def _payload_team(body: dict[str, Any]) -> str | None:
    team = body.get("team")
    if isinstance(team, dict):
        return _text(team.get("id"))
    return _text(team) or _text(body.get("team_id"))


def _payload_enterprise(body: dict[str, Any]) -> str | None:
    org = body.get("enterprise")
    if isinstance(org, dict):
        return _text(org.get("id"))
    return _text(org) or _text(body.get("enterprise_id"))


def installation_target(body: dict[str, Any]) -> InstallationTarget | None:
    """The installation a payload was meant for, from the signed payload alone.

    A modal opened through the app in a Slack Connect channel names the workspace whose
    installation opened it (``view.app_installed_team_id``), though ``team`` is the person's
    own; an event names it in ``authorizations[0]``. None: the payload's own team and org
    (Bolt's reading) are the installation's.
    """
    view = body.get("view")
    if isinstance(view, dict):
        installed = _text(view.get("app_installed_team_id"))
        if installed is not None:
            if installed.startswith("E"):
                return InstallationTarget(installed, None, True)
            same = installed == _payload_team(body)
            # Another workspace's modal: the org the payload names is the person's, not its.
            return InstallationTarget(_payload_enterprise(body) if same else None, installed, False)
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations:
        first = authorizations[0]
        if isinstance(first, dict):
            org_wide = first.get("is_enterprise_install") is True
            return InstallationTarget(
                _text(first.get("enterprise_id")),
                None if org_wide else _text(first.get("team_id")),
                org_wide,
            )
    return None


def target_middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], Any]) -> Any:
    """Bolt's ``before_authorize``: the request's installation target, put in ``context``."""
    context[TARGET_KEY] = installation_target(body) if isinstance(body, dict) else None
    return next()


class SignedPayloadAuthorize(InstallationStoreAuthorize):
    """Bolt's InstallationStoreAuthorize (token rotation included), asked for the installation
    the payload was meant for rather than the acting person's workspace (bolt-python #767)."""

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **actor: Any,
    ) -> AuthorizeResult | None:
        target = context.get(TARGET_KEY)
        if not isinstance(target, InstallationTarget):
            return super().__call__(
                context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
            )
        # A copy: the listeners' context keeps the payload's own is_enterprise_install.
        scoped = BoltContext(context)
        scoped["is_enterprise_install"] = target.is_enterprise_install
        return super().__call__(
            context=scoped,
            enterprise_id=target.enterprise_id,
            team_id=target.team_id,
            user_id=user_id,
        )


# ------------------------------------------------------------------------- install pages

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>{title}</h1>
<p>{text}</p>
</body></html>
"""

_FAILURES = {
    "invalid_browser": (
        400,
        "This install link was started in another browser, or its cookie has expired."
        ' Nothing was installed. <a href="{install}">Start the installation again</a>'
        " in this browser.",
    ),
    "invalid_state": (
        400,
        "This install link has expired or was already used. Nothing was installed."
        ' <a href="{install}">Start the installation again</a>.',
    ),
    "missing_code": (
        400,
        "Slack did not send the authorization code this page needs. Nothing was installed."
        ' <a href="{install}">Start the installation again</a>.',
    ),
    "invalid_code": (
        400,
        "Slack did not accept the authorization code (it expires after a few minutes and works"
        ' once). Nothing was installed. <a href="{install}">Start the installation again</a>.',
    ),
    "storage_error": (
        503,
        "Slack approved the installation, but the bot could not save it. Nothing was installed."
        ' Try again in a few minutes: <a href="{install}">start the installation again</a>.',
    ),
}


def page(status: int, title: str, text: str, headers: dict[str, Any] | None = None) -> BoltResponse:
    """A plain HTML page (``text`` is already HTML-escaped)."""
    return BoltResponse(
        status=status,
        body=_PAGE.format(title=html.escape(title), text=text),
        headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})},
    )


def install_pages(install_path: str, state_utils: OAuthStateUtils) -> CallbackOptions:
    """The pages /slack/oauth_redirect ends on: what happened, in plain words, no trace."""
    clear_cookie = {"Set-Cookie": [state_utils.build_set_cookie_for_deletion()]}
    install = html.escape(install_path, quote=True)

    def success(args: SuccessArgs) -> BoltResponse:
        installed = args.installation
        where = installed.team_name or installed.enterprise_name or "your workspace"
        scope = "organization" if installed.is_enterprise_install else "workspace"
        log.info(
            "installed in %s %s",
            scope,
            installed.enterprise_id if installed.is_enterprise_install else installed.team_id,
        )
        return page(
            200,
            "Installed",
            f"The payments bot is now installed in the {scope} {html.escape(where)}. People"
            " there can type <code>/payments</code> in Slack. You can close this page.",
            clear_cookie,
        )

    def failure(args: FailureArgs) -> BoltResponse:
        status, text = _FAILURES.get(args.reason, (0, ""))
        if not status:
            # Slack's own error in the redirect: access_denied when the person cancelled.
            reason = html.escape(str(args.reason)[:60])
            if args.reason == "access_denied":
                status, text = 200, "The installation was cancelled. Nothing was installed."
            else:
                status, text = 400, f"Slack answered {reason}. Nothing was installed."
            text += f' <a href="{install}">Start the installation again</a>.'
        log.warning("installation refused: %s", str(args.reason)[:60].encode("unicode_escape"))
        return page(status, "Not installed", text.format(install=install), clear_cookie)

    return CallbackOptions(success=success, failure=failure)


# Slack's redirect carries a code and a state: a query longer than this is not Slack's.
MAX_QUERY = 4000


def answer_install_route(
    flow: OAuthFlow, path: str, environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes, str]:
    """GET /slack/install or /slack/oauth_redirect through Bolt's OAuthFlow, for a WSGI server:
    (status line, headers, body, outcome for the log). Never raises: a failure is a page."""
    query = str(environ.get("QUERY_STRING") or "")
    cookie = str(environ.get("HTTP_COOKIE") or "")
    if len(query) > MAX_QUERY or len(cookie) > MAX_QUERY:
        response = page(400, "Not installed", "This link is not one Slack sends.")
    else:
        request = BoltRequest(body="", query=query, headers={"cookie": cookie})
        try:
            if path == flow.install_path:
                response = flow.handle_installation(request)
            else:
                response = flow.handle_callback(request)
        except Exception as exc:  # Slack or the database unreachable: a page, not a trace
            log.error("the installation could not finish: %s: %s", type(exc).__name__, exc)
            response = page(
                503,
                "Not installed",
                "The bot could not reach Slack or its database just now. Nothing was"
                f' installed. Try again in a few minutes: <a href="{flow.install_path}">start'
                " the installation again</a>.",
            )
    body = response.body.encode("utf-8") if isinstance(response.body, str) else b""
    headers = [
        (name.title(), str(value))
        for name, values in response.headers.items()
        if name != "content-length"
        for value in values
    ]
    headers.append(("Content-Length", str(len(body))))
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    outcome = "ok" if response.status < 400 else "refused"
    return f"{response.status} {phrase}".strip(), headers, body, outcome

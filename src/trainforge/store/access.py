"""Who may use a trainforge server: API tokens, users and their browser sessions.

- **Tokens** (``tf_<id>_<secret>``) carry a role. Only the sha256 of the whole token is stored:
  a token is 256 random bits, so a fast hash is enough (no dictionary to attack), and it lets
  a request be checked with one indexed lookup. The token is shown once, when created.
- **Users** log in to the web UI with a password, stored as scrypt with a per-user salt. An
  admin changes a password, or disables a user, with ``trainforge user`` (which calls the
  functions here): either ends the user's sessions, and a disabled user's own tokens (those
  the user created) stop working until the user is enabled again.
- **Sessions** live in the store: the cookie holds a random secret whose sha256 is the
  session's id, checked on every request, so deleting the rows ends the sessions at once;
  each session has its own CSRF token, which every form must send back.

Roles are ordered: a viewer reads; an editor also uploads, trains, promotes and deploys; an
admin also manages tokens and users and deletes models. Below them all, a client token (never
a user) names one federation, which it may read and join, and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from trainforge.errors import ConfigError, UserNotFound
from trainforge.store.clock import as_utc, utc_now
from trainforge.store.handle import StoreHandle
from trainforge.store.tables import ROLES, USER_ROLES, api_tokens, sessions, users

TOKEN_PREFIX = "tf_"
SESSION_DAYS = 7
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~50 ms a login on this class of machine
FIRST_ADMIN = "admin"
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 12, 1024
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class TokenRecord(TypedDict):
    """An API token as it is listed: never its hash."""

    id: str  # the token's public part, after ``tf_``
    name: str
    role: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    federation: str | None  # a client token's federation


class UserRecord(TypedDict):
    """A user as it is listed: never the password hash."""

    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's or a user's name, and the role it holds."""

    name: str
    role: str
    via: str  # "token" or "session"
    federation: str | None = None  # the one federation a client token may join

    def may(self, role: str) -> bool:
        """Whether this principal holds ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_role(role: str, *, roles: tuple[str, ...] = USER_ROLES) -> str:
    if role not in roles:
        raise ConfigError(f"role {role!r} is not one of {', '.join(roles)}; choose one with "
                          "--role")
    return role


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- tokens -----------------------------------------------------------------------------------
def create_token(ws: StoreHandle, *, name: str, role: str, created_by: str | None = None,
                 federation: str | None = None) -> tuple[str, TokenRecord]:
    """A new token and its stored record; the token itself is never stored or shown again.
    A client token names its ``federation``; no other role may."""
    check_role(role, roles=ROLES)
    if (role == "client") != (federation is not None):
        raise ConfigError("a client token belongs to one federation, and only a client token "
                          "does; make client tokens with `trainforge federated token NAME`")
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    row = {"id": token_id, "name": name, "role": role, "token_sha256": token_sha256(token),
           "created_by": created_by, "created_at": utc_now(), "federation": federation}
    with ws.engine.begin() as connection:
        connection.execute(sa.insert(api_tokens).values(row))
    return token, _public(row)


def principal_for_token(ws: StoreHandle, token: str) -> Principal | None:
    """The token's principal, or None for an unknown or revoked token, or one whose creator is
    a disabled user."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    query = (sa.select(api_tokens.c.name, api_tokens.c.role, api_tokens.c.federation)
             .outerjoin(users, users.c.username == api_tokens.c.created_by)
             .where(api_tokens.c.token_sha256 == token_sha256(token),
                    api_tokens.c.revoked_at.is_(None),
                    users.c.disabled.is_not(sa.true())))  # no such user (the CLI), or enabled
    with ws.engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else Principal(name=row.name, role=row.role, via="token",
                                              federation=row.federation)


def touch_token(ws: StoreHandle, token: str) -> None:
    """Record that the token was used now (the server calls this at most once a minute)."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(api_tokens)
                           .where(api_tokens.c.token_sha256 == token_sha256(token))
                           .values(last_used_at=utc_now()))


def list_tokens(ws: StoreHandle) -> list[TokenRecord]:
    """Every token ever created (revoked ones too), newest first, without their hashes."""
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(api_tokens)
                                  .order_by(api_tokens.c.created_at.desc())).all()
    return [_public(dict(row._mapping)) for row in rows]


def revoke_token(ws: StoreHandle, token_id: str) -> TokenRecord:
    """Revoke a token by its id (the part after ``tf_``); it stops working at once."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id,
                                                       api_tokens.c.revoked_at.is_(None))
                           .values(revoked_at=utc_now()))
        row = connection.execute(sa.select(api_tokens)
                                 .where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise ConfigError(f"no token with id {token_id!r}; `trainforge token list` shows the "
                          "ids")
    return _public(dict(row._mapping))


def _public(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(id=row["id"], name=row["name"], role=row["role"],
                       created_by=row["created_by"], created_at=as_utc(row["created_at"]),
                       last_used_at=as_utc(row.get("last_used_at")),
                       revoked_at=as_utc(row.get("revoked_at")),
                       federation=row.get("federation"))


# ---- users and passwords ----------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    parts = [str(_SCRYPT[k]) for k in ("n", "r", "p")]
    return "$".join(["scrypt", *parts, _b64(salt), _b64(digest)])


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                            p=int(p))
    return hmac.compare_digest(actual, _unb64(digest))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise ConfigError("a user name is 1 to 100 letters, digits, '.', '_', '-' or '@', "
                          "starting with a letter or digit; choose another name")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD_CHARS} characters and at "
                          f"most {MAX_PASSWORD_CHARS} characters; leave the password out to "
                          "have one generated")
    return password


def generate_password() -> str:
    """A random password of 20 characters (120 bits)."""
    return secrets.token_urlsafe(15)


def create_user(ws: StoreHandle, *, username: str, password: str, role: str) -> None:
    check_role(role)
    hashed = hash_password(check_password(password))
    try:
        with ws.engine.begin() as connection:
            connection.execute(sa.insert(users).values(
                username=check_username(username), password_hash=hashed, role=role,
                created_at=utc_now(), disabled=False))
    except sa.exc.IntegrityError:
        raise ConfigError(f"a user named {username!r} exists already") from None


def set_password(ws: StoreHandle, username: str, *, password: str) -> None:
    """Give the user a new password and end their sessions (a stolen one must not outlive
    the change)."""
    _change_user(ws, username, password_hash=hash_password(check_password(password)))


def disable_user(ws: StoreHandle, username: str) -> None:
    """Refuse the user's logins, end their sessions and stop the tokens they created (within
    the server's few seconds of token cache) until ``enable_user``."""
    _change_user(ws, username, disabled=True)


def enable_user(ws: StoreHandle, username: str) -> None:
    """Let a disabled user log in again; the tokens they created work again."""
    with ws.engine.begin() as connection:
        _user_id(connection, username)
        connection.execute(sa.update(users).where(users.c.username == username)
                           .values(disabled=False))


def _change_user(ws: StoreHandle, username: str, **values: Any) -> None:
    with ws.engine.begin() as connection:
        user_id = _user_id(connection, username)
        connection.execute(sa.update(users).where(users.c.id == user_id).values(**values))
        connection.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))


def _user_id(connection: sa.Connection, username: str) -> int:
    found = connection.execute(sa.select(users.c.id)
                               .where(users.c.username == check_username(username))).scalar()
    if found is None:
        raise UserNotFound(username)
    return int(found)


def list_users(ws: StoreHandle) -> list[UserRecord]:
    """Every user by name, with role, whether disabled, and when created and last logged in."""
    columns = (users.c.username, users.c.role, users.c.disabled, users.c.created_at,
               users.c.last_login_at)
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(*columns).order_by(users.c.username)).all()
    return [UserRecord(username=row.username, role=row.role, disabled=bool(row.disabled),
                       created_at=as_utc(row.created_at),
                       last_login_at=as_utc(row.last_login_at)) for row in rows]


def ensure_first_admin(ws: StoreHandle) -> tuple[str, str] | None:
    """On a store with no users, create the admin and return its (username, password) to be
    printed once; None when users exist already."""
    with ws.engine.connect() as connection:
        if connection.execute(sa.select(sa.func.count()).select_from(users)).scalar():
            return None
    password = generate_password()
    try:
        create_user(ws, username=FIRST_ADMIN, password=password, role="admin")
    except ConfigError:  # another server process created it at the same moment
        return None
    return FIRST_ADMIN, password


def authenticate(ws: StoreHandle, username: str, password: str) -> Principal | None:
    """The user's principal if the password is right and the user enabled, else None."""
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).first()
    if row is None:
        hash_password(password)  # the same time whether or not the user exists
        return None
    if row.disabled or not password_matches(password, row.password_hash):
        return None
    return Principal(name=row.username, role=row.role, via="session")


# ---- sessions ---------------------------------------------------------------------------------
def create_session(ws: StoreHandle, username: str) -> tuple[str, str]:
    """A session for a logged-in user, and the login recorded: ``(cookie secret, CSRF token)``.
    """
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utc_now()
    with ws.engine.begin() as connection:
        user_id = _user_id(connection, username)
        connection.execute(sa.update(users).where(users.c.id == user_id)
                           .values(last_login_at=now))
        connection.execute(sa.insert(sessions).values(
            id=token_sha256(secret), user_id=user_id, csrf_token=csrf, created_at=now,
            expires_at=now + timedelta(days=SESSION_DAYS)))
    return secret, csrf


def session_principal(ws: StoreHandle, secret: str) -> tuple[Principal, str] | None:
    """The session's user and CSRF token, or None for an unknown or expired session."""
    query = (sa.select(users.c.username, users.c.role, users.c.disabled,
                       sessions.c.csrf_token, sessions.c.expires_at)
             .join(users, users.c.id == sessions.c.user_id)
             .where(sessions.c.id == token_sha256(secret)))
    with ws.engine.connect() as connection:
        row = connection.execute(query).first()
    expires: datetime | None = None if row is None else as_utc(row.expires_at)
    if row is None or row.disabled or expires is None or expires < utc_now():
        return None
    return Principal(name=row.username, role=row.role, via="session"), str(row.csrf_token)


def end_session(ws: StoreHandle, secret: str) -> None:
    with ws.engine.begin() as connection:
        connection.execute(sa.delete(sessions).where(sessions.c.id == token_sha256(secret)))

"""The token vault: each connection's OAuth tokens, encrypted with the keyring, in the datastore."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector.adapters.base import TokenSet
from connector.clock import Clock
from connector.store.database import Database
from connector.store.tokens import OAuthToken


class VaultError(RuntimeError):
    """Stored tokens cannot be decrypted with the configured keys."""


_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(connection: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(connection, threading.Lock())


class TokenVault:
    """Read and write encrypted tokens; serialise refreshes per connection across threads and daemons."""

    def __init__(self, db: Database, keyring: MultiFernet, clock: Clock):
        self.db = db
        self.keyring = keyring
        self.clock = clock

    def _encrypt(self, value: str | None) -> str | None:
        return None if value is None else self.keyring.encrypt(value.encode()).decode()

    def _decrypt(self, value: str | None, connection: str) -> str | None:
        if value is None:
            return None
        try:
            return self.keyring.decrypt(value.encode()).decode()
        except InvalidToken:
            raise VaultError(
                f"tokens of connection '{connection}' cannot be decrypted with the configured keys "
                "(was the key changed without `upm-connector auth rotate-key`?)"
            ) from None

    def _to_set(self, row: OAuthToken) -> TokenSet:
        return TokenSet(
            access_token=self._decrypt(row.access_token, row.connection),
            refresh_token=self._decrypt(row.refresh_token, row.connection),
            instance_url=row.instance_url,
            expires_at=row.expires_at,
            generation=row.generation,
            status=row.status,
            status_reason=row.status_reason,
        )

    def get(self, connection: str) -> TokenSet | None:
        with self.db.session() as session:
            row = session.get(OAuthToken, connection)
            return None if row is None else self._to_set(row)

    def store(self, connection: str, tokens: TokenSet, session: Session | None = None) -> TokenSet:
        """Save new tokens (a rotated refresh token replaces the old at once); bumps the generation."""
        if session is None:
            with self.db.session() as own:
                return self.store(connection, tokens, own)
        row = session.get(OAuthToken, connection) or OAuthToken(connection=connection, generation=0)
        row.access_token = self._encrypt(tokens.access_token)
        if tokens.refresh_token is not None:
            row.refresh_token = self._encrypt(tokens.refresh_token)
        row.instance_url = tokens.instance_url or row.instance_url
        row.expires_at = tokens.expires_at
        row.refreshed_at = self.clock.now()
        row.generation = (row.generation or 0) + 1
        row.status, row.status_reason = "ok", None
        session.add(row)
        session.flush()
        return self._to_set(row)

    def mark_needs_reauth(self, connection: str, reason: str, session: Session | None = None) -> None:
        if session is None:
            with self.db.session() as own:
                return self.mark_needs_reauth(connection, reason, own)
        row = session.get(OAuthToken, connection) or OAuthToken(connection=connection, generation=0)
        row.status, row.status_reason = "needs_reauth", reason[:500]
        session.add(row)

    def statuses(self) -> list[OAuthToken]:
        """Rows for `auth status` (ciphertext only; nothing here is decrypted)."""
        with self.db.session() as session:
            return list(session.scalars(select(OAuthToken).order_by(OAuthToken.connection)))

    @contextmanager
    def refresh_lock(self, connection: str) -> Iterator[tuple[Session, TokenSet | None]]:
        """Hold the right to refresh `connection`'s tokens: one holder per process (a lock) and per
        database (PostgreSQL: the token row `FOR UPDATE`; SQLite: a write transaction). Yields the
        session to store through and the tokens as they are now, so a waiter can see that someone
        else refreshed while it waited."""
        with _process_lock(connection):
            session = self.db.new_session()
            try:
                if self.db.backend == "sqlite":
                    # A no-op write takes SQLite's write lock: other daemons' refreshes queue behind it.
                    session.execute(text("UPDATE oauth_tokens SET generation = generation WHERE connection = :c"), {"c": connection})
                    row = session.get(OAuthToken, connection)
                else:
                    row = session.scalars(
                        select(OAuthToken).where(OAuthToken.connection == connection).with_for_update()
                    ).one_or_none()
                yield session, (None if row is None else self._to_set(row))
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def rotate(self, new_keyring: MultiFernet) -> int:
        """Re-encrypt every stored token under `new_keyring`'s first key. Returns rows rotated."""
        count = 0
        with self.db.session() as session:
            for row in session.scalars(select(OAuthToken).with_for_update() if self.db.backend == "postgresql" else select(OAuthToken)):
                for attribute in ("access_token", "refresh_token"):
                    value = getattr(row, attribute)
                    if value is not None:
                        clear = self._decrypt(value, row.connection)
                        assert clear is not None
                        setattr(row, attribute, new_keyring.encrypt(clear.encode()).decode())
                count += 1
        self.keyring = new_keyring
        return count

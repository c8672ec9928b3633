"""The token vault: encrypted at rest, key rotation, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import text

from connector.auth.keys import KeyMaterialError, keyring, parse_keys
from connector.auth.vault import TokenSet, TokenVault, VaultError
from connector.cli import main
from connector.clock import ManualClock
from connector.store import Database

ACCESS = "00Dxx0000001gEH!AQ4AQFKtokenvalue"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_refresh"


def test_tokens_are_encrypted_at_rest(db: Database) -> None:
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), ManualClock())
    vault.store("crm", TokenSet(ACCESS, REFRESH, instance_url="https://x.example"))
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT access_token, refresh_token FROM oauth_tokens")).one()
    assert ACCESS not in raw[0] and REFRESH not in raw[1]
    tokens = vault.get("crm")
    assert tokens is not None and (tokens.access_token, tokens.refresh_token) == (ACCESS, REFRESH)
    assert ACCESS not in repr(tokens)


def test_refresh_without_new_refresh_token_keeps_the_old_one(db: Database) -> None:
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), ManualClock())
    first = vault.store("crm", TokenSet(ACCESS, REFRESH))
    second = vault.store("crm", TokenSet("new-access", None))
    assert second.refresh_token == REFRESH and second.access_token == "new-access"
    assert second.generation == first.generation + 1


def test_wrong_key_is_a_clear_error(db: Database) -> None:
    TokenVault(db, keyring([Fernet.generate_key().decode()]), ManualClock()).store("crm", TokenSet(ACCESS, REFRESH))
    with pytest.raises(VaultError, match="rotate-key"):
        TokenVault(db, keyring([Fernet.generate_key().decode()]), ManualClock()).get("crm")


def test_malformed_key_material_is_named() -> None:
    with pytest.raises(KeyMaterialError, match="key #2 in env X"):
        parse_keys(Fernet.generate_key().decode() + ",not-a-key", "env X")


def test_needs_reauth_is_recorded(db: Database) -> None:
    vault = TokenVault(db, keyring([Fernet.generate_key().decode()]), ManualClock())
    vault.store("crm", TokenSet(ACCESS, REFRESH))
    vault.mark_needs_reauth("crm", "invalid_grant: expired access/refresh token")
    tokens = vault.get("crm")
    assert tokens is not None and tokens.status == "needs_reauth" and "invalid_grant" in (tokens.status_reason or "")


def test_rotate_key_cli_reencrypts_and_status_never_shows_tokens(database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f'database: {{url: "{database_url}"}}\nsecrets: {{key_file: keys/upm.key}}\n')
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "auth", "status"])
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "keys" / "upm.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600", "the key file is generated, private"
    old_key = key_file.read_text().strip()
    db = Database(database_url)
    TokenVault(db, keyring([old_key]), ManualClock()).store("crm", TokenSet(ACCESS, REFRESH))

    result = runner.invoke(main, ["--config", str(config), "auth", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "1 connection(s) re-encrypted" in result.output
    new_key = key_file.read_text().strip()
    assert new_key != old_key and "," not in new_key and "\n" not in new_key
    tokens = TokenVault(db, keyring([new_key]), ManualClock()).get("crm")
    assert tokens is not None and tokens.access_token == ACCESS
    with pytest.raises(VaultError):
        TokenVault(db, keyring([old_key]), ManualClock()).get("crm")

    result = runner.invoke(main, ["--config", str(config), "auth", "status"])
    assert result.exit_code == 0
    assert "crm" in result.output and " ok " in result.output
    assert ACCESS not in result.output and REFRESH not in result.output
    db.dispose()

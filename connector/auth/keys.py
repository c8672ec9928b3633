"""The keyring that encrypts tokens at rest: Fernet keys from a reference or a key file.

Several keys (comma- or newline-separated): the first encrypts, every one decrypts (MultiFernet),
which is how a key is rotated without downtime.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from connector.config.settings import Settings


class KeyMaterialError(ValueError):
    """The configured key material is missing or malformed."""


def parse_keys(material: str, source: str) -> list[str]:
    keys = [k.strip() for k in material.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise KeyMaterialError(f"no encryption key in {source}")
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise KeyMaterialError(f"key #{index + 1} in {source} is not a Fernet key (32 url-safe base64 bytes)") from None
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    """Write keys atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("\n".join(keys) + "\n")
    os.replace(tmp, path)


def key_file_path(settings: Settings) -> Path:
    return settings.resolve_path(settings.secrets.key_file)


def load_keys(settings: Settings, create: bool = True) -> list[str]:
    """The configured keys; a missing key file is generated when `create` (first run)."""
    if settings.secrets.key is not None:
        return parse_keys(settings.secrets.key.get(), settings.secrets.key.source)
    path = key_file_path(settings)
    if not path.exists():
        if not create:
            raise KeyMaterialError(f"key file {path} does not exist")
        write_key_file(path, [Fernet.generate_key().decode()])
    return parse_keys(path.read_text(encoding="ascii"), f"key file {path}")


def keyring(keys: list[str]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])

"""The keyring that encrypts tokens at rest: Fernet keys from a reference or a key file.

Several keys (comma- or newline-separated): the first encrypts, every one decrypts (MultiFernet),
which is how a key is rotated without downtime.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
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
    """Write keys atomically with mode 0600 (through a temporary file of its own, so concurrent
    writers never share one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("\n".join(keys) + "\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def create_key_file_once(path: Path) -> None:
    """Generate the key file unless it exists, under an exclusive lock on `PATH.lock`: of lanes,
    threads or processes starting together, one creates it and the others read that one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not path.exists():
                write_key_file(path, [Fernet.generate_key().decode()])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
        create_key_file_once(path)
    return parse_keys(path.read_text(encoding="ascii"), f"key file {path}")


def keyring(keys: list[str]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])

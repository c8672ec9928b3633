"""The secrets key file: created once on first use, even when lanes and processes start together."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connector.auth.keys import load_keys
from connector.config import load_settings

SPAWN = multiprocessing.get_context("spawn")


def _keys_in_threads(config: str, threads: int, results: "multiprocessing.Queue[list[str]]") -> None:
    """One process: `threads` lanes load the keys at once (as the daemon's lanes do on a first start)."""
    settings = load_settings(config, environ={})
    barrier = threading.Barrier(threads)

    def lane(_: int) -> str:
        barrier.wait(timeout=30)
        return ",".join(load_keys(settings))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results.put(list(pool.map(lane, range(threads))))


def test_concurrent_first_use_creates_one_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("secrets: {key_file: keys/upm.key}\n", encoding="utf-8")
    results: multiprocessing.Queue[list[str]] = SPAWN.Queue()
    processes = [SPAWN.Process(target=_keys_in_threads, args=(str(config), 8, results)) for _ in range(3)]
    for process in processes:
        process.start()
    seen = [key for _ in processes for key in results.get(timeout=60)]
    for process in processes:
        process.join(timeout=30)
    assert all(p.exitcode == 0 for p in processes)
    assert len(seen) == 24 and len(set(seen)) == 1, "every lane of every process uses the one key created"
    key_file = tmp_path / "keys" / "upm.key"
    assert key_file.read_text(encoding="ascii").strip() == seen[0]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["upm.key", "upm.key.lock"], "no temporary file left"

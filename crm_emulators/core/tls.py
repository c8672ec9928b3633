"""The emulators' TLS material: a throw-away CA (trustme) and a server certificate for 127.0.0.1 and localhost,
kept as PEM files in the state directory so that a restarted emulator keeps the same CA."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

from ..runner import TLSFiles

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TLSMaterial:
    """`ca.pem` (trust it on the client), `server.pem` (certificate chain) and `server.key`."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_files(self) -> TLSFiles:
        """The certificate and key for the server."""
        return TLSFiles(cert_file=self.cert_file, key_file=self.key_file)


def ensure_tls_files(state_dir: Path, hosts: Sequence[str] = DEFAULT_HOSTS) -> TLSMaterial:
    """Reuse the PEM files in `state_dir`, or create them for `hosts`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    material = TLSMaterial(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server.key")
    if all(path.exists() for path in (material.ca_file, material.cert_file, material.key_file)):
        return material
    ca = trustme.CA(organization_name="UPM Connector emulator")
    leaf = ca.issue_cert(*dict.fromkeys(hosts))
    ca.cert_pem.write_to_path(str(material.ca_file))
    for position, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(material.cert_file), append=position > 0)
    leaf.private_key_pem.write_to_path(str(material.key_file))
    os.chmod(material.key_file, 0o600)
    return material

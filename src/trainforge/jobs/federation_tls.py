"""A coordinated federation's TLS files: the certificate its coordinator presents, that
certificate's private key, and the certificate authority (CA) that signed it, which each
holder trusts (`trainforge federated join … --root-certificates CA.pem`).

They are given as PEM text at create (the CLI reads the files named by ``--ssl-certfile``,
``--ssl-keyfile`` and ``--ssl-ca-certfile``, Flower's own SuperLink flags; the REST body and
the web form carry the text), checked with Python's ``ssl`` (each parses, and the key is the
certificate's), and kept in the workspace beside the store, the key readable by its owner
only. The key is never in the federation's settings, its run or its model's lineage.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trainforge.errors import ConfigError, FederationFailed, InvalidField
from trainforge.federated.processes import Certificates
from trainforge.workspace import Workspace

MAX_PEM_CHARS = 100_000  # a certificate chain is a few KB; more is not a certificate
FILES = {"certificate": "coordinator.pem", "private_key": "coordinator.key",
         "ca_certificate": "ca.pem"}


@dataclass(frozen=True)
class CoordinatorTls:
    """The coordinator's TLS files as PEM text."""

    certificate: str  # the coordinator's certificate, naming the address holders dial
    private_key: str
    ca_certificate: str  # the authority that signed it; holders trust this one

    @classmethod
    def read(cls, *, certificate: Path, private_key: Path, ca_certificate: Path
             ) -> CoordinatorTls:
        """The three files' text; ConfigError naming a file that cannot be read."""
        return cls(**{field: _read(path, flag) for field, path, flag in (
            ("certificate", certificate, "--ssl-certfile"),
            ("private_key", private_key, "--ssl-keyfile"),
            ("ca_certificate", ca_certificate, "--ssl-ca-certfile"))})

    def check(self) -> CoordinatorTls:
        """These files if TLS can use them: InvalidField naming the one that is not PEM, or
        the key that is not the certificate's."""
        with tempfile.TemporaryDirectory(prefix="trainforge-tls-") as folder:
            files = self._write(Path(folder))
            context = ssl.create_default_context()
            try:
                context.load_verify_locations(cafile=str(files.ca_certificate))
            except ssl.SSLError as error:
                raise InvalidField("tls_ca_certificate", f"is not a PEM certificate ({error})"
                                   ) from None
            try:
                context.load_cert_chain(str(files.certificate), str(files.private_key))
            except ssl.SSLError as error:
                raise InvalidField("tls_certificate", "and tls_private_key are not a PEM "
                                   f"certificate and its own private key ({error})") from None
        return self

    def save(self, workspace: Workspace, name: str) -> Certificates:
        """Keep the files for federation ``name``'s coordinator."""
        folder = tls_folder(workspace, name)
        folder.mkdir(parents=True, exist_ok=True)
        return self._write(folder)

    def _write(self, folder: Path) -> Certificates:
        files = Certificates(ca_certificate=folder / FILES["ca_certificate"],
                             certificate=folder / FILES["certificate"],
                             private_key=folder / FILES["private_key"])
        files.private_key.touch(mode=0o600)  # the owner's alone before a byte is written
        files.private_key.write_text(self.private_key)
        files.certificate.write_text(self.certificate)
        files.ca_certificate.write_text(self.ca_certificate)
        return files


def tls_folder(workspace: Workspace, name: str) -> Path:
    return workspace.home / "federations" / name / "tls"


def saved_certificates(workspace: Workspace, name: str) -> Certificates:
    """Federation ``name``'s coordinator files; FederationFailed when one is gone."""
    folder = tls_folder(workspace, name)
    files = Certificates(ca_certificate=folder / FILES["ca_certificate"],
                         certificate=folder / FILES["certificate"],
                         private_key=folder / FILES["private_key"])
    missing = [path.name for path in (files.ca_certificate, files.certificate,
                                      files.private_key) if not path.is_file()]
    if missing:
        raise FederationFailed("coordinator", f"it speaks TLS, and {', '.join(missing)} is "
                               f"missing from {folder}; create the federation again")
    return files


def _read(path: Path, flag: str) -> str:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{flag} {path}: cannot be read as a PEM file ({error})") from None
    if len(text) > MAX_PEM_CHARS:
        raise ConfigError(f"{flag} {path}: {len(text):,} characters is no PEM certificate "
                          "or key")
    return text

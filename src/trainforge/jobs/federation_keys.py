"""A holder's SuperNode key: how a federation that speaks TLS admits only the holders who joined.

Its coordinator's SuperLink runs Flower's SuperNode authentication: a SuperNode takes part only
when the public half of the key pair it signs with was registered with that SuperLink first.
`trainforge federated join` makes the pair (``make_holder_key``: EC P-384, the curve Flower's
own keys use), keeps the private key beside the holder's SuperNode, readable by its owner only,
and sends the public key with its join, which the client token admits. The server checks it
(``check_public_key``: OpenSSH text of a NIST EC key, what Flower registers) and registers it
with the coordinator's SuperLink before answering. A SuperNode whose key nobody registered is
refused as it connects. Without TLS Flower authenticates no SuperNode.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trainforge.errors import InvalidField

MAX_PUBLIC_KEY_CHARS = 1_000  # an OpenSSH EC public key is 200-300 characters
NIST_CURVES = ("secp256r1", "secp384r1", "secp521r1")  # the EC curves OpenSSH keys use
PRIVATE_KEY_FILE = "supernode.key"


def make_holder_key(folder: Path) -> tuple[Path, str]:
    """A new key pair for a holder's SuperNode: the private key written to
    ``folder/supernode.key`` (OpenSSH, which Flower's SuperNode reads), readable by its owner
    only; returns that file and the public key as OpenSSH text, which the join sends."""
    private_key = ec.generate_private_key(ec.SECP384R1())
    path = folder / PRIVATE_KEY_FILE
    path.touch(mode=0o600)  # the owner's alone before a byte is written
    path.write_bytes(private_key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.OpenSSH,
                                               serialization.NoEncryption()))
    public_key = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                       serialization.PublicFormat.OpenSSH)
    return path, public_key.decode("ascii")


def check_public_key(text: str, *, field: str = "public_key") -> str:
    """``text`` if it is a public key Flower registers (OpenSSH, on a NIST EC curve), else
    InvalidField naming ``field`` and what it is instead."""
    if len(text) > MAX_PUBLIC_KEY_CHARS:
        raise InvalidField(field, f"{len(text):,} characters is no OpenSSH EC public key "
                                  f"(one is under {MAX_PUBLIC_KEY_CHARS:,})")
    try:
        key = serialization.load_ssh_public_key(text.strip().encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeError) as error:
        raise InvalidField(field, f"is not an OpenSSH public key ({error})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in NIST_CURVES:
        raise InvalidField(field, f"is an {type(key).__name__}, not an EC key on a NIST curve "
                                  f"({', '.join(NIST_CURVES)}), which Flower authenticates "
                                  "SuperNodes by")
    return text.strip()

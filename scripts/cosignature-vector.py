#!/usr/bin/env python3
"""Writes testdata/tlog/cosignature_v1.json: a C2SP tlog-cosignature (Ed25519,
cosignature/v1) known answer computed with pyca/cryptography (OpenSSL's Ed25519) and
hashlib, written straight from the spec's text, independently of Evident's code.
Run: python3 scripts/cosignature-vector.py"""
import base64
import hashlib
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

NAME = "witness.example.com/w1"
SEED = bytes(range(32))
TIMESTAMP = 1679315147
# The checkpoint of the spec's example (C2SP tlog-cosignature, "Ed25519 signed message").
NOTE_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

key = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
key_id = hashlib.sha256(NAME.encode() + b"\n" + b"\x04" + public).digest()[:4]
message = f"cosignature/v1\ntime {TIMESTAMP}\n{NOTE_TEXT}".encode()
signature = key.sign(message)
line = "— " + NAME + " " + base64.b64encode(key_id + TIMESTAMP.to_bytes(8, "big") + signature).decode()
vector = {
    "source": "scripts/cosignature-vector.py: pyca/cryptography "
    + __import__("cryptography").__version__
    + " (OpenSSL Ed25519) and hashlib, from the text of c2sp.org/tlog-cosignature",
    "name": NAME,
    "seed_hex": SEED.hex(),
    "private_key": f"PRIVATE+KEY+{NAME}+{key_id.hex()}+" + base64.b64encode(b"\x04" + SEED).decode(),
    "verifier_key": f"{NAME}+{key_id.hex()}+" + base64.b64encode(b"\x04" + public).decode(),
    "timestamp": TIMESTAMP,
    "note_text": NOTE_TEXT,
    "signed_message": message.decode(),
    "cosignature_line": line,
}
path = pathlib.Path(__file__).resolve().parent.parent / "testdata" / "tlog" / "cosignature_v1.json"
path.write_text(json.dumps(vector, indent=2, ensure_ascii=False) + "\n")
print(path)

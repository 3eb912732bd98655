"""Encoded identifiers (METHOD.md §6): what a data custodian runs before handing data over.

* ``person_key`` -> HMAC-SHA256 of the normalised identifier under the project key.
* ``first_name`` / ``last_name`` -> keyed Bloom filters (Schnell, Bachteler and Reiher, 2009)
  in ``first_name_bf`` / ``last_name_bf`` (base64): the bigrams of the name's variant-insensitive
  skeleton (``linkage.names``), each set by ``hashes`` keyed hash functions (double hashing
  over one HMAC-SHA256) into ``bits`` bits; optionally salted with the birth year. Plaintext
  names are dropped. Linkage compares the filters by the Dice coefficient inside DuckDB.

The key is read from a file or an environment variable, kept in memory only, and never
logged or written. Separate sub-keys are derived for identifiers and for names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from linkage.names import name_skeleton
from schemas import sql as db
from schemas.contract import SOURCES
from schemas.errors import ConfigError

log = logging.getLogger("miglink")

MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class BloomParameters:
    bits: int = 1024
    hashes: int = 20
    salt_with_birth_year: bool = False

    def __post_init__(self) -> None:
        if self.bits < 64 or self.bits % 8:
            raise ConfigError(f"bits={self.bits!r}: need a multiple of 8, at least 64")
        if not 1 <= self.hashes <= 100:
            raise ConfigError(f"hashes={self.hashes!r}: need 1 to 100")


def read_key(key_file: Path | None = None, key_env: str | None = None) -> bytes:
    """The project key from a file or an environment variable (never echoed)."""
    if key_file is not None and key_env is not None:
        raise ConfigError("give the key either as a file or as an environment variable")
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as error:
            raise ConfigError(f"cannot read the key file {key_file}: {error.strerror}") from None
        where = f"key file {key_file}"
    elif key_env is not None:
        key = os.environ.get(key_env, "").strip().encode()
        where = f"environment variable {key_env}"
    else:
        raise ConfigError("no key: pass --key-file FILE or --key-env VARIABLE")
    if not key:
        raise ConfigError(f"the {where} is empty")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the key in the {where} is too short: at least {MIN_KEY_BYTES} "
                          "bytes are needed (unkeyed or short keys fall to enumeration)")
    return key


def _subkey(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()


def normalise_identifier(value: str) -> str:
    return re.sub(r"[\s\-./]", "", value).upper()


def hash_identifier(key: bytes, value: str | None) -> str | None:
    """HMAC-SHA256 (hex) of a normalised identifier."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = normalise_identifier(str(value))
    return hmac.new(_subkey(key, "person_key"), text.encode(), hashlib.sha256).hexdigest() \
        if text else None


def bigrams(name: str | None) -> list[str]:
    skeleton = name_skeleton(name)
    if not skeleton:
        return []
    padded = f"_{skeleton}_"
    return [padded[i:i + 2] for i in range(len(padded) - 1)]


def bloom_filter(key: bytes, name: str | None, params: BloomParameters,
                 salt: str = "") -> str | None:
    """Base64 Bloom filter of a name's skeleton bigrams; None when there is no name."""
    grams = bigrams(name)
    if not grams:
        return None
    names_key = _subkey(key, "names")
    bits = bytearray(params.bits // 8)
    for gram in grams:
        digest = hmac.new(names_key, f"{salt}|{gram}".encode(), hashlib.sha256).digest()
        h1 = int.from_bytes(digest[:8], "big")
        h2 = int.from_bytes(digest[8:16], "big") | 1
        for i in range(params.hashes):
            position = (h1 + i * h2) % params.bits
            bits[position // 8] |= 0x80 >> (position % 8)
    return base64.b64encode(bytes(bits)).decode()


def dice(a: str, b: str) -> float:
    """Dice coefficient of two base64 Bloom filters (reference for the SQL comparison)."""
    x, y = base64.b64decode(a), base64.b64decode(b)
    both = sum(bin(p & q).count("1") for p, q in zip(x, y, strict=True))
    total = sum(bin(p).count("1") for p in x) + sum(bin(q).count("1") for q in y)
    return 2 * both / total if total else 0.0


def encode_frame(frame: pd.DataFrame, key: bytes, params: BloomParameters) -> pd.DataFrame:
    """One source's table with keys hashed and names replaced by Bloom filters."""
    out = frame.copy()
    if "person_key" in out:
        out["person_key"] = [hash_identifier(key, v) for v in out["person_key"]]
    salts = [""] * len(out)
    if params.salt_with_birth_year:
        years = pd.to_datetime(out["birth_date"], errors="coerce").dt.year \
            if "birth_date" in out else pd.Series([None] * len(out))
        if "birth_year" in out:
            years = years.fillna(pd.to_numeric(out["birth_year"], errors="coerce"))
        salts = ["" if pd.isna(y) else str(int(y)) for y in years]
    for column in ("first_name", "last_name"):
        if column not in out:
            continue
        cache: dict[tuple, str | None] = {}
        encoded = []
        for value, salt in zip(out[column], salts, strict=True):
            name = None if value is None or (isinstance(value, float) and pd.isna(value)) \
                else str(value)
            if (name, salt) not in cache:
                cache[(name, salt)] = bloom_filter(key, name, params, salt)
            encoded.append(cache[(name, salt)])
        out[f"{column}_bf"] = encoded
        out = out.drop(columns=[column])
    return out


MANIFEST = "encoding.json"


def key_check(key: bytes) -> str:
    """A check value of the key (32 bits of an HMAC of a fixed text): tells whether two
    encodings used the same key without revealing anything usable about it."""
    return hmac.new(key, b"miglink key check", hashlib.sha256).hexdigest()[:8]


def check_manifest(out: Path, key: bytes, params: BloomParameters) -> dict:
    """The manifest this encoding writes; refuses to add to a folder encoded differently
    (sources encoded under different keys or filter settings never link)."""
    manifest = {"person_key": "HMAC-SHA256", "bloom_bits": params.bits,
                "bloom_hashes": params.hashes,
                "salted_with_birth_year": params.salt_with_birth_year,
                "key_check": key_check(key)}
    existing = out / MANIFEST
    if existing.exists():
        try:
            before = json.loads(existing.read_text())
        except ValueError:
            raise ConfigError(f"{existing}: not a miglink encoding manifest") from None
        if before.get("key_check") != manifest["key_check"]:
            raise ConfigError(f"wrong key: {out} holds sources encoded with another key "
                              "(their key check differs); sources encoded under different "
                              "keys never link")
        changed = [k for k in manifest if before.get(k) != manifest[k]]
        if changed:
            raise ConfigError(f"{out} holds sources encoded with other settings "
                              f"({', '.join(changed)}); encode with the same settings")
    return manifest


def encode_directory(source_dir: Path, out: Path, key: bytes, params: BloomParameters
                     ) -> dict[str, int]:
    """Encode every linked source of ``source_dir`` into ``out`` (Parquet); copy the rest.

    ``out`` may already hold sources encoded earlier (by another custodian, say), but only
    under the same key and settings (``encoding.json``)."""
    if not source_dir.is_dir():
        raise ConfigError(f"{source_dir}: no such folder")
    manifest = check_manifest(out, key, params)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, spec in SOURCES.items():
        path = next((p for p in (source_dir / f"{name}.parquet", source_dir / f"{name}.csv")
                     if p.exists()), None)
        if path is None:
            continue
        if not spec.linked:
            shutil.copy2(path, out / path.name)
            continue
        frame = db.frame(duckdb, f"encode {name}",
                         f"SELECT * FROM read_parquet({db.literal(str(path))})") \
            if path.suffix == ".parquet" \
            else pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        encoded = encode_frame(frame, key, params)
        encoded.to_parquet(out / f"{name}.parquet", index=False)
        counts[name] = len(encoded)
        log.info("encoded %s: %d records", name, len(encoded))
    if (source_dir / "country.txt").exists():
        shutil.copy2(source_dir / "country.txt", out / "country.txt")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return counts

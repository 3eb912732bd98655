"""Every source of the contract, derived from the true population with real sources' defects.

Defects: late or missing deregistration of emigrants; foreigners registering weeks after
arrival; permits issued before arrival and outlasting the stay; a census that misses more
recent immigrants; a quarterly survey with weights; partial border-crossing coverage;
irregular signs of life; Cyrillic names in national sources and varying Latin
transliterations in permits, the aliens register and passports; typos; swapped day and
month; missing values; ``person_key`` only where a national number exists.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass

import numpy as np

from synthetic.names import SCHEMES, transliterate
from synthetic.population import Person, World, day

LATIN_SCHEMES = tuple(SCHEMES)
ALPHABET_LATIN = "ABCDEFGHIKLMNOPRSTUVYZ"
ALPHABET_CYRILLIC = "абвгдеиклмнопрстуя"


@dataclass(frozen=True)
class Defects:
    """Per-source error rates of identity fields."""

    script: str  # "national" (Cyrillic where the name is) or "passport" (Latin)
    typo: float
    swap_day_month: float
    dob_missing: float
    key_share: float
    scheme_drift: float = 0.0  # chance a clerk uses another transliteration than the passport


DEFECTS = {
    "population_register": Defects("national", 0.01, 0.004, 0.003, 1.0),
    "aliens_register": Defects("passport", 0.02, 0.01, 0.005, 0.3, scheme_drift=0.35),
    "residence_permits": Defects("passport", 0.02, 0.01, 0.003, 0.0, scheme_drift=0.3),
    "census": Defects("national", 0.03, 0.02, 0.02, 0.7),
    "survey": Defects("national", 0.03, 0.02, 0.02, 0.5),
    "border_crossings": Defects("passport", 0.01, 0.003, 0.0, 0.9),
    "activity": Defects("national", 0.015, 0.005, 0.005, 0.97),
}


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text)))
    kind = rng.random()
    alphabet = ALPHABET_CYRILLIC if any("а" <= c.lower() <= "я" for c in text) else ALPHABET_LATIN
    letter = alphabet[int(rng.integers(len(alphabet)))]
    letter = letter.upper() if text[i].isupper() else letter.lower()
    if kind < 0.35:
        return text[:i] + letter + text[i + 1:]
    if kind < 0.6:
        return text[:i] + text[i + 1:]
    if kind < 0.8 and i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + text[i] + text[i:]


def _latin_passport(rng: np.random.Generator, name: str) -> str:
    """A Latin-script name as a passport or clerk writes it (diacritics kept or folded)."""
    upper = name.upper()
    if rng.random() < 0.5:
        upper = upper.replace("Ü", "UE").replace("Ö", "OE").replace("Ä", "AE")
    folded = unicodedata.normalize("NFKD", upper.replace("İ", "I").replace("ı", "I"))
    return "".join(c for c in folded if not unicodedata.combining(c)) if rng.random() < 0.7 \
        else upper


def national_number_key(pid: int, secret: bytes) -> str:
    """person_key: HMAC-SHA256 of the national number, as the data custodian delivers it."""
    number = f"{(pid * 7919 + 104729) % 10**12:012d}"
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()


class IdentityWriter:
    """Writes a person's identity fields the way one source does, defects included."""

    def __init__(self, rng: np.random.Generator, world: World, secret: bytes):
        self.rng, self.world, self.secret = rng, world, secret

    def names(self, p: Person, d: Defects) -> tuple[str, str]:
        rng = self.rng
        if d.script == "national":
            first, last = p.first_name, p.last_name
            if not p.cyrillic:
                first, last = first.title(), last.title()
        elif p.cyrillic:
            scheme = p.passport_scheme
            if rng.random() < min(1.0, d.scheme_drift * self.world.scheme_drift_factor):
                scheme = LATIN_SCHEMES[int(rng.integers(len(LATIN_SCHEMES)))]
            first, last = transliterate(p.first_name, scheme), transliterate(p.last_name, scheme)
        else:
            first, last = _latin_passport(rng, p.first_name), _latin_passport(rng, p.last_name)
        typo = min(0.5, d.typo * self.world.typo_factor)
        if rng.random() < typo:
            first = _typo(rng, first)
        if rng.random() < typo:
            last = _typo(rng, last)
        return first, last

    def identity(self, p: Person, source: str) -> dict:
        rng, d = self.rng, DEFECTS[source]
        missing = self.world.missing_factor
        first, last = self.names(p, d)
        birth: int | None = p.birth
        birth_year = None
        if rng.random() < min(0.5, d.dob_missing * missing):
            birth = None
            if rng.random() < 0.5:
                birth_year = _year(p.birth)
        elif rng.random() < d.swap_day_month:
            birth = _swap_day_month(p.birth)
        key = None
        if p.has_national_number and rng.random() < d.key_share:
            key = national_number_key(p.pid, self.secret)
        return {
            "person_key": key,
            "first_name": None if rng.random() < 0.004 * missing else first,
            "last_name": last,
            "birth_date": birth,
            "birth_year": birth_year,
            "sex": None if rng.random() < 0.005 * missing else p.sex,
            "citizenship": None if rng.random() < 0.01 * missing else p.citizenship,
            "country_of_birth": None if rng.random() < min(0.5, 0.03 * missing)
            else p.country_of_birth,
        }


def _year(d: int) -> int:
    return int(np.datetime64(d, "D").astype("datetime64[Y]").astype(int) + 1970)


def _swap_day_month(d: int) -> int:
    date = np.datetime64(d, "D").astype(object)
    if date.day > 12 or date.day == date.month:
        return d
    return day(date.year, date.day, date.month)

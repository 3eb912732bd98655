"""Name standardisation across scripts (METHOD.md §6).

``standard_name``: NFKC, case-fold, Cyrillic transliterated with one fixed scheme (ICAO 9303
letters, Kazakh and Ukrainian letters to their plain Latin base), Latin diacritics expanded the
way transliterations write them (š -> sh) and then dropped, everything but a-z removed.

``name_skeleton``: the standard form with the spelling variants of the transliteration
standards folded to one symbol (shch/sch/shh, kh/h/x, ts/tc/cz/c, yu/iu/ju, ya/ia/ja,
ye/ie/je/e, yo/io/jo/e, y/j/i, w/v, ue/oe/ae), doubled letters collapsed: so that Щербаков,
SHCHERBAKOV, SCHERBAKOV, SHHERBAKOV and ŠČERBAKOV meet.

``surname_stem``: the skeleton without its gendered ending (-ov/-ova, -skiy/-skaya), compared
at a lower level than the full surname.

``initial_class``: the class of a skeleton's first letter, for blocking two records whose
names are both spelt otherwise: letters that transliterations of one sound give (Қ/K/Q, Г/H/G,
Ш/Ş/S, Ч/Ç/C, Ж/Z) are one class, and so are the vowels (Усман / Osman).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
    # Ukrainian
    "і": "i", "ї": "i", "є": "ie", "ґ": "g",
    # Kazakh
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h",
    # Belarusian, Uzbek Cyrillic
    "ў": "u", "ҳ": "h",
}
# Latin letters with diacritics as transliterations spell them out
_LATIN_EXPANSIONS = {
    "š": "sh", "č": "ch", "ž": "zh", "ŝ": "shch", "ş": "sh", "ç": "ch", "ğ": "g", "ñ": "n",
    "ß": "ss", "ı": "i", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l",
}
_NOT_LETTER = re.compile(r"[^a-z]+")

# Order matters: longest and most specific first.
_SKELETON_RULES: tuple[tuple[str, str], ...] = (
    ("shch", "S"), ("shh", "S"), ("sch", "S"),
    ("zh", "Z"), ("kh", "H"), ("ch", "Q"), ("sh", "W"),
    ("tch", "Q"), ("tsch", "Q"), ("tc", "C"), ("ts", "C"), ("cz", "C"), ("tz", "C"),
    ("yu", "U"), ("iu", "U"), ("ju", "U"),
    ("ya", "A"), ("ia", "A"), ("ja", "A"),
    ("ye", "E"), ("ie", "E"), ("je", "E"),
    # ё: e (ICAO), yo (BGN), jo, io, ë -- all one symbol with e
    ("yo", "E"), ("io", "E"), ("jo", "E"),
    ("ue", "u"), ("oe", "o"), ("ae", "a"),
    ("x", "H"), ("h", "H"), ("c", "C"), ("w", "v"), ("y", "I"), ("j", "I"), ("i", "I"),
    ("e", "E"),
)
_GENDERED_ENDINGS = re.compile(r"(ov|Ev|in|n)a$|(sk|ck|Ck)(A|aA|aI|a|I)$")


@lru_cache(maxsize=500_000)
def standard_name(name: str | None) -> str | None:
    """The one fixed Latin form of a name in any script; None when nothing is left."""
    if name is None:
        return None
    text = unicodedata.normalize("NFKC", name).casefold()
    out = []
    for ch in text:
        out.append(_CYRILLIC.get(ch) or _LATIN_EXPANSIONS.get(ch) or ch)
    folded = unicodedata.normalize("NFKD", "".join(out))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    cleaned = _NOT_LETTER.sub("", folded)
    return cleaned or None


@lru_cache(maxsize=500_000)
def name_skeleton(name: str | None) -> str | None:
    """Variant-insensitive form of a standard name (see module docstring)."""
    std = standard_name(name)
    if std is None:
        return None
    text = std
    for pattern, symbol in _SKELETON_RULES:
        text = text.replace(pattern, symbol)
    return re.sub(r"(.)\1+", r"\1", text)


@lru_cache(maxsize=500_000)
def surname_stem(name: str | None) -> str | None:
    """Skeleton of a surname without its gendered ending: Иванова and IVANOV share one."""
    skeleton = name_skeleton(name)
    if skeleton is None:
        return None

    def strip(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        return m.group(2) + "I"

    return _GENDERED_ENDINGS.sub(strip, skeleton)


def has_cyrillic(name: str | None) -> bool:
    return bool(name) and any("\u0400" <= c <= "\u04ff" for c in name)


_INITIAL_CLASSES = {**dict.fromkeys("kqgH", "k"), **dict.fromkeys("sSWCQzZ", "s"),
                    **dict.fromkeys("aAEIUoue", "a")}


def initial_class(skeleton: str | None) -> str | None:
    """The class of a name skeleton's first letter (see the module docstring)."""
    if not skeleton:
        return None
    return _INITIAL_CLASSES.get(skeleton[0], skeleton[0])

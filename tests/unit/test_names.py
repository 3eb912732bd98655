"""Name standardisation pinned with tables of cases (METHOD.md §6)."""

import pytest

from linkage.names import has_cyrillic, name_skeleton, standard_name, surname_stem

# spellings of one name that must share a skeleton
SAME_SKELETON = [
    ("Щербаков", "SHCHERBAKOV", "SCHERBAKOV", "SHHERBAKOV", "ŠČERBAKOV", "Shcherbakov"),
    ("Юлия", "IULIIA", "YULIYA", "Julija", "Yuliia"),
    ("Хабибуллин", "KHABIBULLIN", "XABIBULLIN", "HABIBULLIN"),
    ("Цветков", "TSVETKOV", "TCVETKOV", "CZVETKOV", "CVETKOV"),
    ("Єрмоленко", "YERMOLENKO", "IERMOLENKO", "JERMOLENKO"),
    ("Нұрсұлтан", "NURSULTAN", "NŪRSŪLTAN"),
    ("Müller", "MUELLER", "MULLER"),
    ("Фёдоров", "FEDOROV", "FYODOROV", "FJODOROV", "FIODOROV"),
]

# pairs that must differ in skeleton (different names)
DIFFERENT = [("Иванов", "Ivanova"), ("Сергей", "Sergeev"), ("Olga", "Olha")]

GENDERED = [("Иванов", "IVANOVA"), ("Вишневский", "VISHNEVSKAYA"), ("Ильин", "ILINA"),
            ("Ахметов", "AKHMETOVA")]


@pytest.mark.parametrize("spellings", SAME_SKELETON)
def test_spellings_share_a_skeleton(spellings):
    skeletons = {name_skeleton(s) for s in spellings}
    assert len(skeletons) == 1, dict(zip(spellings, map(name_skeleton, spellings),
                                         strict=True))


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_names_stay_apart(a, b):
    assert name_skeleton(a) != name_skeleton(b)


@pytest.mark.parametrize("male,female", GENDERED)
def test_gendered_endings_share_a_stem_not_a_skeleton(male, female):
    assert surname_stem(male) == surname_stem(female)
    assert name_skeleton(male) != name_skeleton(female)


@pytest.mark.parametrize("raw,expected", [
    ("  Иван-Петров ", "ivanpetrov"), ("O'Brien", "obrien"), ("ŞAHİN", "shahin"),
    ("Ǆ", "dzh"), ("", None), (None, None), ("---", None),
])
def test_standard_name(raw, expected):
    assert standard_name(raw) == expected


def test_script_detection():
    assert has_cyrillic("Иван") and not has_cyrillic("IVAN") and not has_cyrillic(None)

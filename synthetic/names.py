"""Names as the synthetic world writes them: pools by origin, and the transliteration schemes
that real source systems use for Cyrillic names (passports, clerks, old and new standards).

This is the *world* the sources are drawn from; the linkage side has its own standardisation
(``linkage.names``) and must not rely on anything here.
"""

from __future__ import annotations

from functools import lru_cache

# Pools: (male first names, female first names, surnames as (male form, female form)).
# Order is popularity: the generator draws with Zipf-like weights, so common names are common.
RUSSIAN = (
    "Александр Сергей Дмитрий Андрей Алексей Иван Евгений Михаил Николай Владимир Юрий Артём "
    "Максим Илья Павел Роман Олег Виктор Игорь Константин Денис Антон Вячеслав Григорий Фёдор "
    "Ярослав Тимофей Кирилл Георгий Семён Аркадий Эдуард".split(),
    "Елена Ольга Наталья Татьяна Ирина Светлана Юлия Анна Екатерина Мария Анастасия Людмила "
    "Галина Валентина Ксения Дарья Евгения Яна Юлиана Алёна Виктория Полина Софья Жанна "
    "Зинаида Эльвира Любовь Надежда Вера Щеславa".replace("a", "а").split(),
    [("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"),
     ("Попов", "Попова"), ("Васильев", "Васильева"), ("Петров", "Петрова"),
     ("Соколов", "Соколова"), ("Михайлов", "Михайлова"), ("Новиков", "Новикова"),
     ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова"),
     ("Алексеев", "Алексеева"), ("Лебедев", "Лебедева"), ("Семёнов", "Семёнова"),
     ("Егоров", "Егорова"), ("Павлов", "Павлова"), ("Козлов", "Козлова"),
     ("Степанов", "Степанова"), ("Николаев", "Николаева"), ("Орлов", "Орлова"),
     ("Щербаков", "Щербакова"), ("Жуков", "Жукова"), ("Зайцев", "Зайцева"),
     ("Хабибуллин", "Хабибуллина"), ("Цветков", "Цветкова"), ("Чернышёв", "Чернышёва"),
     ("Шевчук", "Шевчук"), ("Юдин", "Юдина"), ("Яковлев", "Яковлева"),
     ("Эйдельман", "Эйдельман"), ("Вишневский", "Вишневская"), ("Достоевский", "Достоевская"),
     ("Белоусов", "Белоусова"), ("Григорьев", "Григорьева"), ("Тарасов", "Тарасова"),
     ("Воробьёв", "Воробьёва"), ("Комаров", "Комарова"), ("Ильин", "Ильина"),
     ("Гусев", "Гусева"), ("Титов", "Титова"), ("Кудрявцев", "Кудрявцева"),
     ("Баранов", "Баранова"), ("Куликов", "Куликова"), ("Алиев", "Алиева"),
     ("Ковальчук", "Ковальчук"), ("Мельников", "Мельникова"), ("Сорокин", "Сорокина"),
     ("Соловьёв", "Соловьёва"), ("Зуев", "Зуева"), ("Ершов", "Ершова"), ("Щукин", "Щукина"),
     ("Крылов", "Крылова"), ("Медведев", "Медведева"), ("Яшин", "Яшина"),
     ("Макаров", "Макарова"), ("Журавлёв", "Журавлёва"), ("Гаврилов", "Гаврилова"),
     ("Ефимов", "Ефимова"), ("Рыбаков", "Рыбакова"), ("Успенский", "Успенская")],
)
KAZAKH = (
    "Нұрлан Ержан Асхат Ерлан Қайрат Серік Дәулет Бауыржан Ғалым Мұрат Әлихан Нұрсұлтан "
    "Арман Талғат Жандос Еркін Айдос Бекзат Санжар Ілияс Өмірзақ Ұлан Руслан Тимур".split(),
    "Айгүл Гүлнар Әсел Жанар Динара Сәуле Мадина Айжан Ақмарал Гүлжан Назгүл Аружан "
    "Жұлдыз Балжан Әйгерім Салтанат Меруерт Інжу Үміт Данагүл Томирис Айым".split(),
    [("Ахметов", "Ахметова"), ("Нұрланов", "Нұрланова"), ("Сейітов", "Сейітова"),
     ("Жұмабаев", "Жұмабаева"), ("Қасымов", "Қасымова"), ("Омаров", "Омарова"),
     ("Әбенов", "Әбенова"), ("Тоқаев", "Тоқаева"), ("Бекмұратов", "Бекмұратова"),
     ("Сұлтанов", "Сұлтанова"), ("Ғабдуллин", "Ғабдуллина"), ("Есенов", "Есенова"),
     ("Иманғалиев", "Иманғалиева"), ("Жақсыбеков", "Жақсыбекова"), ("Мұхамеджанов",
     "Мұхамеджанова"), ("Өтегенов", "Өтегенова"), ("Үсенов", "Үсенова"),
     ("Шәріпов", "Шәріпова"), ("Қожахметов", "Қожахметова"), ("Байжанов", "Байжанова"),
     ("Тұрсынбаев", "Тұрсынбаева"), ("Әлімжанов", "Әлімжанова"), ("Ержанов", "Ержанова"),
     ("Нұрпейісов", "Нұрпейісова"), ("Смағұлов", "Смағұлова"), ("Оспанов", "Оспанова"),
     ("Бекова", "Бекова"), ("Хасенов", "Хасенова"), ("Құдайбергенов", "Құдайбергенова"),
     ("Ысқақов", "Ысқақова")],
)
UKRAINIAN = (
    "Олександр Андрій Іван Сергій Дмитро Юрій Богдан Тарас Микола Василь Євген Олег Ігор "
    "Віталій Григорій Ярослав Остап".split(),
    "Олена Ольга Наталія Тетяна Ірина Юлія Оксана Марія Катерина Галина Світлана Людмила "
    "Ганна Віра Надія Любов Ярина Христина".split(),
    [("Шевченко", "Шевченко"), ("Коваленко", "Коваленко"), ("Бондаренко", "Бондаренко"),
     ("Ткаченко", "Ткаченко"), ("Кравченко", "Кравченко"), ("Олійник", "Олійник"),
     ("Мельник", "Мельник"), ("Ковальчук", "Ковальчук"), ("Поліщук", "Поліщук"),
     ("Гнатюк", "Гнатюк"), ("Їжакевич", "Їжакевич"), ("Ярошенко", "Ярошенко"),
     ("Лисенко", "Лисенко"), ("Савчук", "Савчук"), ("Руденко", "Руденко"),
     ("Марченко", "Марченко"), ("Захарчук", "Захарчук"), ("Гончаренко", "Гончаренко"),
     ("Єрмоленко", "Єрмоленко"), ("Ґудзь", "Ґудзь")],
)
CENTRAL_ASIAN = (
    "Рустам Фаррух Шерзод Бахтиёр Азиз Жасур Улугбек Достон Абдулла Зафар Шухрат Алишер "
    "Бекзод Нодир Тимур Исмоил Саидакбар Мухаммад".split(),
    "Дилноза Гулнора Малика Нигора Шахло Зарина Феруза Мохира Дилбар Севара Умида Нилуфар "
    "Гулчехра Мадина".split(),
    [("Каримов", "Каримова"), ("Рахимов", "Рахимова"), ("Юсупов", "Юсупова"),
     ("Абдуллаев", "Абдуллаева"), ("Турсунов", "Турсунова"), ("Назаров", "Назарова"),
     ("Исмоилов", "Исмоилова"), ("Холматов", "Холматова"), ("Саидов", "Саидова"),
     ("Эргашев", "Эргашева"), ("Мирзаев", "Мирзаева"), ("Хасанов", "Хасанова"),
     ("Жураев", "Жураева"), ("Шарипов", "Шарипова"), ("Усмонов", "Усмонова"),
     ("Бобоев", "Бобоева"), ("Файзуллаев", "Файзуллаева"), ("Кодиров", "Кодирова")],
)
CHINESE = (
    "Wei Jun Lei Hao Jie Tao Ming Yong Qiang Bin Chao Gang Peng Xin Yang".split(),
    "Fang Li Na Jing Ying Xiu Mei Yan Juan Hui Ling Xia Qian Hong".split(),
    [(s, s) for s in "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin "
     "He Guo Ma Luo Liang Song Zheng Xie Han Tang Feng Yu Dong Xiao".split()],
)
TURKISH = (
    "Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim Murat Emre Yusuf Ömer Burak Serkan".split(),
    "Ayşe Fatma Emine Hatice Zeynep Elif Meryem Şerife Zehra Sultan Hülya Esra".split(),
    [(s, s) for s in "Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir "
     "Arslan Doğan Kılıç Aslan Çetin Kara Koç Kurt Özkan Şimşek".split()],
)
GERMAN = (
    "Thomas Michael Andreas Stefan Peter Christian Markus Alexander Jürgen Klaus Wolfgang".split(),
    "Sabine Susanne Petra Claudia Andrea Nicole Stefanie Katrin Julia Anja Monika".split(),
    [(s, s) for s in "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz "
     "Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Braun".split()],
)
INDIAN = (
    "Rahul Amit Vikram Arjun Rohan Sanjay Suresh Rajesh Anil Deepak Karan Nikhil".split(),
    "Priya Anjali Pooja Neha Kavita Sunita Deepika Anita Meera Divya Lakshmi".split(),
    [(s, s) for s in "Sharma Verma Gupta Singh Kumar Patel Reddy Nair Iyer Rao Joshi Mehta "
     "Chopra Das Bose Menon".split()],
)

POOLS = {
    "russian": RUSSIAN, "kazakh": KAZAKH, "ukrainian": UKRAINIAN, "central_asian": CENTRAL_ASIAN,
    "chinese": CHINESE, "turkish": TURKISH, "german": GERMAN, "indian": INDIAN,
}
CYRILLIC_POOLS = frozenset({"russian", "kazakh", "ukrainian", "central_asian"})

# --- transliteration schemes used by source systems (Cyrillic -> Latin) -----------------

_COMMON = dict(zip("абвгдезклмнопрстуф", "abvgdezklmnoprstuf", strict=True))
_KAZ_PLAIN = {"ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h",
              "і": "i"}
_UKR_PLAIN = {"і": "i", "ї": "i", "є": "ie", "ґ": "g"}

SCHEMES: dict[str, dict[str, str]] = {
    # ICAO Doc 9303 (passports since 2013): Юлия -> IULIIA
    "icao": {**_COMMON, **_KAZ_PLAIN, **_UKR_PLAIN, "ё": "e", "ж": "zh", "и": "i", "й": "i",
             "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y",
             "ь": "", "э": "e", "ю": "iu", "я": "ia"},
    # MVD 1997 (older passports): Юлия -> YULIYA
    "mvd1997": {**_COMMON, **_KAZ_PLAIN, **_UKR_PLAIN, "ё": "e", "ж": "zh", "и": "i", "й": "y",
                "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
                "ь": "", "э": "e", "ю": "yu", "я": "ya", "є": "ye"},
    # BGN/PCGN, as clerks often write it
    "bgn": {**_COMMON, **_KAZ_PLAIN, **_UKR_PLAIN, "ё": "yo", "ж": "zh", "и": "i", "й": "y",
            "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
            "ь": "", "э": "e", "ю": "yu", "я": "ya"},
    # GOST 7.79 system B, ASCII: Щербаков -> SHHERBAKOV, Хабибуллин -> XABIBULLIN
    "gost_b": {**_COMMON, **_KAZ_PLAIN, **_UKR_PLAIN, "ё": "yo", "ж": "zh", "и": "i", "й": "j",
               "х": "x", "ц": "cz", "ч": "ch", "ш": "sh", "щ": "shh", "ъ": "", "ы": "y",
               "ь": "", "э": "e", "ю": "yu", "я": "ya"},
    # scholarly / ISO 9-like with diacritics: Щербаков -> ŠČERBAKOV
    "scholarly": {**_COMMON, **_KAZ_PLAIN, "і": "i", "ї": "ï", "є": "je", "ґ": "g", "ё": "ë",
                  "ж": "ž", "и": "i", "й": "j", "х": "ch", "ц": "c", "ч": "č", "ш": "š",
                  "щ": "šč", "ъ": "", "ы": "y", "ь": "", "э": "è", "ю": "ju", "я": "ja"},
    # Ukrainian national system (2010): Г -> H, И -> Y, Юлія -> Yuliia
    "ukr2010": {**_COMMON, "г": "h", "ґ": "g", "е": "e", "є": "ie", "ж": "zh", "и": "y",
                "і": "i", "ї": "i", "й": "i", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
                "щ": "shch", "ь": "", "ю": "iu", "я": "ia", "ё": "e", "ы": "y", "э": "e",
                "ъ": "", **{k: v for k, v in _KAZ_PLAIN.items() if k != "і"}},
    # Kazakh Latin alphabet (2021)
    "kazlat2021": {**_COMMON, "ә": "ä", "ғ": "ğ", "қ": "q", "ң": "ñ", "ө": "ö", "ұ": "ū",
                   "ү": "ü", "һ": "h", "і": "i", "и": "i", "й": "i", "ж": "j", "х": "h",
                   "ц": "ts", "ч": "ch", "ш": "ş", "щ": "şş", "ъ": "", "ы": "y", "ь": "",
                   "э": "e", "ю": "iu", "я": "ia", "ё": "io", "є": "ie", "ї": "i", "ґ": "g"},
}
# Ukrainian initial-position forms (Є, Ї, Й, Ю, Я -> Ye, Yi, Y, Yu, Ya at the start of a word)
_UKR_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}


@lru_cache(maxsize=200_000)
def transliterate(name: str, scheme: str, upper: bool = True) -> str:
    """Write a Cyrillic name in Latin letters the way ``scheme`` does."""
    table = SCHEMES[scheme]
    out = []
    for i, ch in enumerate(name.lower()):
        if scheme == "ukr2010" and i == 0 and ch in _UKR_INITIAL:
            out.append(_UKR_INITIAL[ch])
        elif ch == "е" and scheme in ("bgn", "mvd1997") and i == 0:
            out.append("ye")
        elif ch == "е":
            out.append("e")
        else:
            out.append(table.get(ch, ch))
    text = "".join(out)
    return text.upper() if upper else text.title()

//! Small vocabularies for plausible Russian catalog text.

pub struct Subject {
    pub id: i64,
    /// `subjectName` as WB spells it (plural).
    pub name: &'static str,
    /// Noun that starts the product title.
    pub noun: &'static str,
    /// Parent category, used as `category` in statistics reports.
    pub parent: &'static str,
    /// Title qualifiers, already agreeing with `noun` in gender and number.
    pub qualifiers: &'static [&'static str],
    /// (techSize, wbSize) scale; one-size goods fall back to techSize "0".
    pub sizes: &'static [(&'static str, &'static str)],
    pub apparel: bool,
    /// Latin code used in vendor codes.
    pub code: &'static str,
}

const CLOTHING: &[(&str, &str)] = &[
    ("XS", "42"),
    ("S", "44"),
    ("M", "46"),
    ("L", "48"),
    ("XL", "50"),
    ("XXL", "52"),
    ("3XL", "54"),
    ("4XL", "56"),
];
const JEANS: &[(&str, &str)] = &[
    ("26", "42"),
    ("27", "44"),
    ("28", "44"),
    ("29", "46"),
    ("30", "48"),
    ("31", "48"),
    ("32", "50"),
    ("33", "52"),
    ("34", "54"),
];
const SHOES: &[(&str, &str)] = &[
    ("36", "36"),
    ("37", "37"),
    ("38", "38"),
    ("39", "39"),
    ("40", "40"),
    ("41", "41"),
    ("42", "42"),
    ("43", "43"),
    ("44", "44"),
    ("45", "45"),
];
const PANS: &[(&str, &str)] = &[
    ("20 см", ""),
    ("22 см", ""),
    ("24 см", ""),
    ("26 см", ""),
    ("28 см", ""),
    ("30 см", ""),
];
const VOLUMES_ML: &[(&str, &str)] = &[
    ("250 мл", ""),
    ("350 мл", ""),
    ("450 мл", ""),
    ("600 мл", ""),
];
const BACKPACKS: &[(&str, &str)] = &[
    ("15 л", ""),
    ("20 л", ""),
    ("25 л", ""),
    ("30 л", ""),
    ("40 л", ""),
];
const FORMATS: &[(&str, &str)] = &[("10x15", ""), ("15x21", ""), ("20x30", ""), ("30x40", "")];
const ONE_SIZE: &[(&str, &str)] = &[("0", "")];

pub const SUBJECTS: &[Subject] = &[
    Subject {
        id: 192,
        name: "Футболки",
        noun: "Футболка",
        parent: "Одежда",
        qualifiers: &[
            "оверсайз",
            "хлопковая",
            "базовая",
            "с принтом",
            "спортивная",
            "удлинённая",
        ],
        sizes: CLOTHING,
        apparel: true,
        code: "FTB",
    },
    Subject {
        id: 180,
        name: "Джинсы",
        noun: "Джинсы",
        parent: "Одежда",
        qualifiers: &[
            "прямые",
            "скинни",
            "с высокой посадкой",
            "мом",
            "широкие",
            "утеплённые",
        ],
        sizes: JEANS,
        apparel: true,
        code: "DZH",
    },
    Subject {
        id: 69,
        name: "Платья",
        noun: "Платье",
        parent: "Одежда",
        qualifiers: &[
            "миди",
            "вечернее",
            "трикотажное",
            "летнее",
            "в горошек",
            "с поясом",
        ],
        sizes: CLOTHING,
        apparel: true,
        code: "PLT",
    },
    Subject {
        id: 11,
        name: "Свитеры",
        noun: "Свитер",
        parent: "Одежда",
        qualifiers: &["вязаный", "оверсайз", "шерстяной", "с горлом", "тёплый"],
        sizes: CLOTHING,
        apparel: true,
        code: "SVT",
    },
    Subject {
        id: 105,
        name: "Кроссовки",
        noun: "Кроссовки",
        parent: "Обувь",
        qualifiers: &[
            "беговые",
            "кожаные",
            "на платформе",
            "дышащие",
            "демисезонные",
        ],
        sizes: SHOES,
        apparel: true,
        code: "KRS",
    },
    Subject {
        id: 2994,
        name: "Сковороды",
        noun: "Сковорода",
        parent: "Посуда и инвентарь",
        qualifiers: &[
            "антипригарная",
            "чугунная",
            "гриль",
            "с крышкой",
            "индукционная",
        ],
        sizes: PANS,
        apparel: false,
        code: "SKV",
    },
    Subject {
        id: 1437,
        name: "Формы для запекания",
        noun: "Форма для запекания",
        parent: "Посуда и инвентарь",
        qualifiers: &["силиконовая", "стеклянная", "керамическая", "разъёмная"],
        sizes: ONE_SIZE,
        apparel: false,
        code: "FRM",
    },
    Subject {
        id: 5067,
        name: "Кружки",
        noun: "Кружка",
        parent: "Посуда и инвентарь",
        qualifiers: &[
            "керамическая",
            "с надписью",
            "фарфоровая",
            "большая",
            "подарочная",
        ],
        sizes: VOLUMES_ML,
        apparel: false,
        code: "KRZ",
    },
    Subject {
        id: 473,
        name: "Рюкзаки",
        noun: "Рюкзак",
        parent: "Аксессуары",
        qualifiers: &[
            "городской",
            "туристический",
            "школьный",
            "кожаный",
            "водонепроницаемый",
        ],
        sizes: BACKPACKS,
        apparel: false,
        code: "RKZ",
    },
    Subject {
        id: 1162,
        name: "Фотоальбомы",
        noun: "Фотоальбом",
        parent: "Канцтовары",
        qualifiers: &[
            "на 200 фото",
            "свадебный",
            "детский",
            "магнитный",
            "в подарочной коробке",
        ],
        sizes: FORMATS,
        apparel: false,
        code: "FAL",
    },
    Subject {
        id: 3091,
        name: "Наушники",
        noun: "Наушники",
        parent: "Электроника",
        qualifiers: &[
            "беспроводные",
            "накладные",
            "вкладыши",
            "игровые",
            "с микрофоном",
        ],
        sizes: ONE_SIZE,
        apparel: false,
        code: "NSH",
    },
    Subject {
        id: 2610,
        name: "Мультистайлеры",
        noun: "Мультистайлер",
        parent: "Бытовая техника",
        qualifiers: &["для волос", "профессиональный", "5 в 1", "с насадками"],
        sizes: ONE_SIZE,
        apparel: false,
        code: "MST",
    },
];

pub const BRANDS: &[&str] = &[
    "Северный Ветер",
    "Уютный Дом",
    "ТехноЛайн",
    "Лесная Сказка",
    "Bellissima",
    "Volga Style",
    "Домашний Очаг",
    "Сибирь Спорт",
    "Мир Посуды",
    "Urban Fox",
    "Зимняя Вишня",
    "КотоФей",
];

pub const COLORS: &[&str] = &[
    "черный",
    "белый",
    "серый",
    "бежевый",
    "синий",
    "красный",
    "зеленый",
    "розовый",
    "голубой",
    "хаки",
    "бордовый",
    "молочный",
];

pub const DESCRIPTION_OPENERS: &[&str] = &[
    "Практичная модель на каждый день.",
    "Новинка сезона от проверенного производителя.",
    "Отличный выбор для себя и в подарок.",
    "Качественные материалы и аккуратное исполнение.",
    "Хит продаж нашего магазина.",
];

pub const DESCRIPTION_CLOSERS: &[&str] = &[
    "Перед использованием ознакомьтесь с инструкцией.",
    "Товар проходит контроль качества перед отправкой.",
    "Гарантия производителя 12 месяцев.",
    "Уход: деликатная чистка, не использовать агрессивные средства.",
];

/// Buyer regions for statistics reports: (regionName, oblastOkrugName).
pub const REGIONS: &[(&str, &str)] = &[
    ("Московская", "Центральный федеральный округ"),
    ("Москва", "Центральный федеральный округ"),
    ("Санкт-Петербург", "Северо-Западный федеральный округ"),
    ("Краснодарский край", "Южный федеральный округ"),
    ("Республика Татарстан", "Приволжский федеральный округ"),
    ("Свердловская", "Уральский федеральный округ"),
    ("Новосибирская", "Сибирский федеральный округ"),
    ("Ростовская", "Южный федеральный округ"),
];

/// Seller (FBS) warehouse addresses, named the way sellers usually name them.
pub const SELLER_ADDRESSES: &[&str] = &[
    "ул. Троицкая, Подольск, Московская обл.",
    "ул. Складочная, 1, Москва",
    "пр. Обуховской Обороны, 120, Санкт-Петербург",
    "ул. Техническая, 5, Казань",
    "ул. Монтажников, 4, Екатеринбург",
    "ул. Станционная, 30, Новосибирск",
];

/// WB offices a seller warehouse can be attached to (`officeId`).
pub const OFFICE_IDS: &[i64] = &[15, 507, 686, 1733, 117_986, 130_744, 206_348, 208_277];

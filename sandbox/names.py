"""UK-style name pools for generated schools.

Deliberately awkward: apostrophes, accents and hyphens, because those are exactly the
names that break address matching and display-name comparison in the service.
"""

from __future__ import annotations

import unicodedata

GIVEN = [
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Freya",
    "Arthur", "Lily", "Muhammad", "Florence", "Oscar", "Willow", "Charlie", "Rosie", "Jacob", "Sophia",
    "Thomas", "Evie", "Alfie", "Grace", "Zoë", "Siân", "José", "Chloé", "Aoife", "Niamh", "Seán", "Dafydd",
    "Rhys", "Cerys", "Priya", "Aarav", "Fatima", "Yusuf", "Amara", "Kwame", "Chidi", "Wiktoria", "Jakub",
    "Maja", "Ewan", "Callum", "Eilidh", "Ruaridh", "Hannah", "Daniel", "Ellie", "Samuel", "Jessica", "Lucas",
    "Poppy", "Ethan", "Imogen", "Aisha", "Omar", "Zara", "Renée", "Noémie", "Mateo", "Sofía", "Elif", "Emre",
]

FAMILY = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "O'Brien", "O'Connor", "D'Souza", "McAllister", "MacDonald", "Smith-Jones", "Ward-Prowse", "Lloyd-Webber",
    "Khan", "Patel", "Begum", "Ahmed", "Singh", "Kaur", "Okafor", "Mensah", "Nowak", "Kowalski", "Müller",
    "Núñez", "Brontë", "Ó Súilleabháin", "Jenkins", "Price", "Morgan", "Bell", "Murray", "Campbell",
    "Stewart", "Clarke", "Baker", "Harris", "Lewis", "Young", "King", "Scott", "Adams", "Mitchell",
]

SUBJECTS = [
    "English", "Maths", "Science", "Biology", "Chemistry", "Physics", "History", "Geography", "French",
    "Spanish", "Art", "Music", "Drama", "Computing", "PE", "RE", "PSHE", "Design Technology", "Food",
    "Latin", "Economics", "Psychology", "Sociology", "Media Studies",
]

SCHOOL_NAMES = [
    "Northfield Academy", "Riverside High School", "St Aidan's College", "Hollins Park School",
    "Kingsmead Academy", "Ashby Grammar School", "Brookvale School", "Castle Hill Academy",
    "Westbourne Community School", "Ysgol Glan-y-Môr",
]

ACADEMY_NAMES = [
    "Meridian Academy", "Thornbury Park Academy", "Oakwell Academy", "Saltmarsh Academy", "Beacon Hill Academy",
    "Greyfriars Academy", "Lantern Academy", "Harrowden Academy", "Millbrook Academy", "Coedwig Academy",
]

# Ten more of each, drawn only by a 20-school trust (single schools keep sampling the first ten, so
# their generated names and domains are unchanged).
MORE_SCHOOL_NAMES = [
    "Fairfield Primary School", "Highcliffe School", "Larkrise Community School", "Moorside Academy",
    "Penrith Vale School", "Queen's Park High School", "Ravensbourne School", "St Bede's Catholic College",
    "Tŷ Gwyn School", "Whitecross Academy",
]

MORE_ACADEMY_NAMES = [
    "Ashgrove Academy", "Bramley Fields Academy", "Cliffside Academy", "Dunmore Academy", "Elmstead Academy",
    "Foxhollow Academy", "Gorse Hill Academy", "Hawthorn Academy", "Inglewood Academy", "Juniper Vale Academy",
]

PERSONAL_DOMAINS = ["gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "icloud.com",
                    "sky.com", "live.co.uk"]

# (display text, client id stem, scopes, native app) — realistic third-party grants
APPS = [
    ("Google Chrome", "77185425430", ["https://www.google.com/accounts/OAuthLogin"], True),
    ("iOS Account Manager", "450232826690", ["https://mail.google.com/", "openid", "email"], True),
    ("Kahoot!", "316734913364", ["openid", "email", "profile"], False),
    ("Quizlet", "1020987654321", ["openid", "email", "profile"], False),
    ("Canva", "840123456789", ["openid", "email", "profile", "https://www.googleapis.com/auth/drive.file"], False),
    ("Microsoft apps & services", "911234567890", ["https://mail.google.com/", "openid", "email"], False),
]


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters only: 'Zoë' -> 'zoe', "O'Brien" -> 'obrien', 'Smith-Jones' -> 'smithjones'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


def school_id(name: str) -> str:
    """A school's id in the written config ("St Aidan's College" -> "st-aidans-college")."""
    words = [ascii_slug(w) for w in name.replace("-", " ").split()]
    return "-".join(w for w in words if w)[:64] or "school"


def school_slug(name: str) -> str:
    words = [ascii_slug(w) for w in name.replace("-", " ").split()]
    return "".join(w[0] for w in words if w) or "school"

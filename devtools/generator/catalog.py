"""Reference data of the fictional tenant: offices, subjects, questionnaires, employees...

Everything is built once per run from the run's seed (names, phone numbers, which
translations exist) and then shared, read-only, by every event. Customers are many, so
they are derived on demand from `(seed, customer number)` instead of being stored.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from devtools.generator.timeutil import DAY_MS, date_to_ms, iso_ms

LANGUAGES = ("en", "nl", "fr", "de")
BANK_DOMAIN = "demo-bank.example"
PORTAL = "https://engage.demo-bank.example"

Json = dict[str, Any]


def tr(values: dict[str, str]) -> list[Json]:
    """Return a translation list `[{language, value}, ...]` in a stable language order."""
    return [{"language": lang, "value": values[lang]} for lang in LANGUAGES if lang in values]


def partial(rng: random.Random, values: dict[str, str], keep: float = 0.75) -> dict[str, str]:
    """Drop some translations (never the first one listed), so names are partially translated."""
    items = list(values.items())
    return dict(items[:1] + [(k, v) for k, v in items[1:] if rng.random() < keep])


def ascii_slug(text: str) -> str:
    """Lower-case ASCII form of a name for e-mail addresses (`Müller` -> `muller`)."""
    norm = unicodedata.normalize("NFKD", text)
    return "".join(c for c in norm if c.isascii() and (c.isalnum() or c in "-.")).lower()


def location(
    postal: str,
    country: str,
    lat: float,
    lon: float,
    city: dict[str, str],
    street1: dict[str, str],
    street2: dict[str, str] | None = None,
    state: dict[str, str] | None = None,
) -> Json:
    """Build an address object with multilingual city/street/state translations."""
    return {
        "postalCode": postal,
        "countryCode": country,
        "geolocation": {"latitude": round(lat, 7), "longitude": round(lon, 7)},
        "translations": {
            "city": tr(city),
            "street1": tr(street1),
            "street2": tr(street2 or {}),
            "state": tr(state or {}),
        },
    }


# --- offices ------------------------------------------------------------------------------------
# key, country, time zone, postal code, lat, lon, city, street1, street2, state, name, customer langs
_OFFICES: list[tuple[Any, ...]] = [
    ("GNT", "BE", "Europe/Brussels", "9000", 51.0479466, 3.7250121,
     {"nl": "Gent", "fr": "Gand", "en": "Ghent"}, {"nl": "Kouter 12"}, {"nl": "Gelijkvloers"},
     {"nl": "Oost-Vlaanderen", "fr": "Flandre-Orientale"},
     {"nl": "Kantoor Gent Kouter", "en": "Ghent Kouter office"}, ("nl", "nl", "en")),
    ("ANT", "BE", "Europe/Brussels", "2000", 51.2177570, 4.4098830,
     {"nl": "Antwerpen", "fr": "Anvers", "en": "Antwerp"}, {"nl": "Meir 48"}, None,
     {"nl": "Antwerpen"}, {"nl": "Kantoor Antwerpen Meir"}, ("nl",)),
    ("BRU", "BE", "Europe/Brussels", "1050", 50.8330390, 4.3620370,
     {"nl": "Brussel", "fr": "Bruxelles", "en": "Brussels", "de": "Brüssel"},
     {"fr": "Avenue Louise 120", "nl": "Louizalaan 120"}, {"fr": "Boîte 4", "nl": "Bus 4"},
     {"fr": "Région de Bruxelles-Capitale", "nl": "Brussels Hoofdstedelijk Gewest"},
     {"fr": "Agence Bruxelles Louise", "nl": "Kantoor Brussel Louiza", "en": "Brussels Louise"},
     ("fr", "nl", "fr", "en")),
    ("LGE", "BE", "Europe/Brussels", "4000", 50.6412080, 5.5718200,
     {"fr": "Liège", "nl": "Luik", "de": "Lüttich"}, {"fr": "Place Saint-Lambert 9"}, None,
     {"fr": "Liège"}, {"fr": "Agence Liège Saint-Lambert"}, ("fr",)),
    ("AMS", "NL", "Europe/Amsterdam", "1082 MS", 52.3383460, 4.8720150,
     {"nl": "Amsterdam", "en": "Amsterdam"}, {"nl": "Gustav Mahlerlaan 310"}, {"nl": "7e etage"},
     {"nl": "Noord-Holland"}, {"nl": "Kantoor Amsterdam Zuidas", "en": "Amsterdam Zuidas office"},
     ("nl", "nl", "en")),
    ("RTM", "NL", "Europe/Amsterdam", "3011 AD", 51.9225030, 4.4791700,
     {"nl": "Rotterdam"}, {"nl": "Coolsingel 93"}, None, {"nl": "Zuid-Holland"},
     {"nl": "Kantoor Rotterdam Coolsingel"}, ("nl",)),
    ("UTR", "NL", "Europe/Amsterdam", "3511 CE", 52.0907370, 5.1214200,
     {"nl": "Utrecht"}, {"nl": "Oudegracht 150"}, None, {"nl": "Utrecht"},
     {"nl": "Kantoor Utrecht Centrum", "en": "Utrecht city centre"}, ("nl",)),
    ("PAR", "FR", "Europe/Paris", "92400", 48.8920130, 2.2380140,
     {"fr": "Courbevoie", "en": "Courbevoie"}, {"fr": "1 Parvis de la Défense"}, {"fr": "Tour B"},
     {"fr": "Île-de-France"}, {"fr": "Agence Paris La Défense", "en": "Paris La Défense branch"},
     ("fr", "fr", "en")),
    ("LIL", "FR", "Europe/Paris", "59000", 50.6292500, 3.0572560,
     {"fr": "Lille", "nl": "Rijsel"}, {"fr": "Rue Nationale 31"}, None, {"fr": "Hauts-de-France"},
     {"fr": "Agence Lille Grand-Place"}, ("fr",)),
    ("CGN", "DE", "Europe/Berlin", "50667", 50.9375310, 6.9602790,
     {"de": "Köln", "en": "Cologne", "fr": "Cologne", "nl": "Keulen"}, {"de": "Hohe Straße 52"},
     None, {"de": "Nordrhein-Westfalen"}, {"de": "Filiale Köln Innenstadt"}, ("de",)),
    ("BER", "DE", "Europe/Berlin", "10117", 52.5200080, 13.4049540,
     {"de": "Berlin", "en": "Berlin"}, {"de": "Friedrichstraße 68"}, {"de": "3. OG"}, {"de": "Berlin"},
     {"de": "Filiale Berlin Mitte", "en": "Berlin Mitte branch"}, ("de", "de", "en")),
]  # fmt: skip

_OFFICE_DESCRIPTIONS = {
    "nl": "Persoonlijk advies over wonen, verzekeren en beleggen.",
    "fr": "Conseil personnalisé pour votre logement, vos assurances et vos placements.",
    "en": "Personal advice on housing, insurance and investments.",
    "de": "Persönliche Beratung zu Wohnen, Versicherungen und Geldanlage.",
}
_DIRECTIONS = {
    "nl": "Op vijf minuten wandelen van het station; ingang naast de bakker.",
    "fr": "À cinq minutes à pied de la gare ; entrée à côté de la boulangerie.",
    "en": "Five minutes' walk from the station; entrance next to the bakery.",
    "de": "Fünf Gehminuten vom Bahnhof; Eingang neben der Bäckerei.",
}
_PARKING = {
    "nl": "Betaalparking op 200 m; fietsenstalling aan de ingang.",
    "fr": "Parking payant à 200 m ; rack à vélos à l'entrée.",
    "en": "Paid car park 200 m away; bike racks at the entrance.",
    "de": "Parkhaus in 200 m Entfernung; Fahrradständer am Eingang.",
}
_COUNTRY_PHONE = {"BE": "+32", "NL": "+31", "FR": "+33", "DE": "+49"}
_COUNTRY_LANG = {"BE": "nl", "NL": "nl", "FR": "fr", "DE": "de"}

# --- subjects and questionnaires ------------------------------------------------------------------
_GROUPS: list[tuple[str, str, dict[str, str]]] = [
    ("MORT", "#1f6feb", {"en": "Mortgages", "nl": "Hypotheken", "fr": "Crédits hypothécaires",
                         "de": "Baufinanzierung"}),
    ("INS", "#2da44e", {"nl": "Verzekeringen", "en": "Insurance", "fr": "Assurances",
                        "de": "Versicherungen"}),
    ("INV", "#bf8700", {"en": "Investments", "nl": "Beleggen", "fr": "Investissements",
                        "de": "Geldanlage"}),
    ("DAY", "#8250df", {"nl": "Dagelijks bankieren", "en": "Daily banking",
                        "fr": "Banque au quotidien"}),
]  # fmt: skip

# group index, key, names (partial on purpose: some only in one language)
_SUBJECTS: list[tuple[int, str, dict[str, str]]] = [
    (0, "NEWMORT", {"en": "New mortgage", "nl": "Nieuwe hypotheek", "fr": "Nouveau crédit",
                    "de": "Neue Baufinanzierung"}),
    (0, "REFI", {"en": "Refinancing", "nl": "Herfinanciering", "fr": "Refinancement"}),
    (0, "YOUNG", {"nl": "Woonkrediet voor jongeren"}),
    (0, "RENO", {"nl": "Renovatielening", "fr": "Prêt rénovation", "en": "Renovation loan"}),
    (1, "HOME", {"en": "Home insurance", "nl": "Woningverzekering", "fr": "Assurance habitation",
                 "de": "Hausratversicherung"}),
    (1, "CAR", {"nl": "Autoverzekering", "fr": "Assurance auto", "en": "Car insurance"}),
    (1, "ASRD", {"fr": "Assurance solde restant dû"}),
    (1, "CLAIM", {"en": "Claim follow-up", "nl": "Opvolging schadegeval", "fr": "Suivi de sinistre"}),
    (2, "ADVICE", {"en": "Investment advice", "nl": "Beleggingsadvies", "fr": "Conseil en placement",
                   "de": "Anlageberatung"}),
    (2, "PENSION", {"nl": "Pensioensparen", "fr": "Épargne-pension", "en": "Pension savings"}),
    (2, "ESG", {"en": "Sustainable investing", "nl": "Duurzaam beleggen"}),
    (2, "ESTATE", {"fr": "Planification successorale", "nl": "Successieplanning"}),
    (3, "ACCOUNT", {"en": "Open an account", "nl": "Rekening openen", "fr": "Ouvrir un compte",
                    "de": "Konto eröffnen"}),
    (3, "CARDS", {"nl": "Bankkaarten", "fr": "Cartes bancaires", "en": "Bank cards"}),
    (3, "BIZ", {"de": "Geschäftskonto"}),
]  # fmt: skip

_SUBJECT_DESCRIPTION = {
    "en": "An advisor calls you back to discuss your question.",
    "nl": "Een adviseur belt u terug om uw vraag te bespreken.",
    "fr": "Un conseiller vous rappelle pour discuter de votre question.",
    "de": "Ein Berater ruft Sie zurück, um Ihre Frage zu besprechen.",
}
_SUBJECT_INSTRUCTIONS = {
    "en": "Have your identity card and recent payslips at hand.",
    "nl": "Houd uw identiteitskaart en recente loonbrieven bij de hand.",
    "fr": "Munissez-vous de votre carte d'identité et de vos fiches de paie récentes.",
}

# question kinds: choice (one option), multi (several), text (free text), file (upload)
# form key -> [(kind, labels, options)]
_FORMS: dict[str, list[tuple[str, dict[str, str], list[str]]]] = {
    "Q-MORT": [
        ("choice", {"en": "Do you already own a home?", "nl": "Bent u al eigenaar van een woning?",
                    "fr": "Êtes-vous déjà propriétaire ?"}, ["Yes", "No"]),
        ("choice", {"en": "When do you plan to buy?", "nl": "Wanneer wilt u kopen?"},
         ["Within 3 months", "3 to 6 months", "Later", "Not sure yet"]),
        ("text", {"en": "Purchase price of the property", "nl": "Aankoopprijs van de woning",
                  "fr": "Prix d'achat du bien"}, []),
        ("file", {"nl": "Upload uw loonfiches (optioneel)", "en": "Upload your payslips"}, []),
    ],
    "Q-INS": [
        ("choice", {"en": "Type of property", "nl": "Type woning", "fr": "Type de bien",
                    "de": "Art der Immobilie"}, ["House", "Apartment", "Studio", "Other"]),
        ("text", {"en": "Current insurer", "nl": "Huidige verzekeraar"}, []),
        ("multi", {"en": "What should be covered?", "nl": "Wat wilt u verzekeren?"},
         ["Fire", "Theft", "Water damage", "Legal assistance"]),
    ],
    "Q-INV": [
        ("choice", {"en": "Investment horizon", "nl": "Beleggingshorizon", "fr": "Horizon de placement",
                    "de": "Anlagehorizont"}, ["< 3 years", "3 - 8 years", "> 8 years"]),
        ("choice", {"en": "Risk profile", "nl": "Risicoprofiel", "fr": "Profil de risque"},
         ["Defensive", "Neutral", "Dynamic"]),
        ("choice", {"en": "Amount to invest", "nl": "Te beleggen bedrag"},
         ["< 25k", "25k - 100k", "100k - 500k", "> 500k"]),
        ("text", {"en": "Anything else we should know?", "nl": "Nog iets dat we moeten weten?",
                  "fr": "Autre chose à signaler ?", "de": "Sonst noch etwas?"}, []),
    ],
    "Q-DAY": [
        ("choice", {"en": "Are you already a customer?", "nl": "Bent u al klant?",
                    "fr": "Êtes-vous déjà client ?", "de": "Sind Sie bereits Kunde?"}, ["Yes", "No"]),
        ("text", {"en": "Describe your question", "nl": "Beschrijf uw vraag",
                  "fr": "Décrivez votre question"}, []),
    ],
    "F-COMPLETE": [
        ("choice", {"en": "Outcome", "nl": "Resultaat", "fr": "Résultat"},
         ["Sale", "Follow-up needed", "No interest", "Referred to specialist"]),
        ("text", {"en": "Summary", "nl": "Samenvatting"}, []),
    ],
    "F-CANCEL-AGENT": [
        ("choice", {"en": "Cancellation reason", "nl": "Reden van annulatie"},
         ["Customer unreachable", "Duplicate request", "Out of scope", "Other"]),
    ],
    "F-CANCEL-CUSTOMER": [
        ("choice", {"en": "Why do you cancel?", "nl": "Waarom annuleert u?",
                    "fr": "Pourquoi annulez-vous ?", "de": "Warum stornieren Sie?"},
         ["No longer needed", "Found another solution", "Wrong subject", "Other"]),
    ],
}  # fmt: skip

FREE_TEXT: dict[str, list[str]] = {
    "nl": [
        "Graag bellen na 17u, ik werk overdag.",
        "We willen een appartement kopen in de buurt van het station.",
        "Mijn lening loopt nog 12 jaar, is herfinancieren interessant?",
        "Vraag over de premie na verhuis.",
        "Ongeveer 320.000 euro",
        "Ik heb al een offerte van een andere bank.",
    ],
    "fr": [
        "Merci de m'appeler en fin de journée.",
        "Nous cherchons une maison avec jardin, budget 350 000 EUR.",
        "Question sur la déductibilité fiscale.",
        "Environ 280.000 euros",
        "Ma carte a été avalée par le distributeur.",
    ],
    "de": [
        "Bitte nur vormittags anrufen.",
        "Wir möchten eine Eigentumswohnung finanzieren.",
        "Ca. 450.000 EUR",
        "Frage zur Kündigung meines bisherigen Vertrags.",
    ],
    "en": [
        "Please call me during lunch time.",
        "We are relocating for work and need a mortgage quickly.",
        "Around 300k EUR",
        "I would like to understand the fees.",
        "Second opinion on my current portfolio.",
    ],
}
SUMMARIES = [
    "Customer informed, offer sent by e-mail.",
    "Klant gebeld, simulatie doorgestuurd.",
    "Rendez-vous fixé en agence.",
    "Follow-up call planned next week.",
    "Kunde zurückgerufen, Unterlagen angefordert.",
    "",
]
NOTES = [
    "Called, no answer. Will retry tomorrow.",
    "Klant niet bereikt, voicemail ingesproken.",
    "Client rappelé, attend les documents.",
    "Customer prefers a video call.",
    "Dossier doorgestuurd naar kredietafdeling.",
    "Bitte Rückruf durch Spezialist.",
    "VIP customer - handle with priority.",
]

# --- people -------------------------------------------------------------------------------------
FIRST_NAMES = {
    "BE": ["Lotte", "Pieter", "Sofie", "Thomas", "Elise", "Wout", "Marie", "Lucas", "Camille",
           "Julien", "Nathalie", "Arnaud", "Ine", "Jeroen", "Hanne", "Ruben", "Amélie", "Mathis"],
    "NL": ["Daan", "Sanne", "Bram", "Fleur", "Jeroen", "Anouk", "Sem", "Lieke", "Ruud", "Noor",
           "Thijs", "Marloes", "Joost", "Eva"],
    "FR": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Théo", "Manon", "Nicolas", "Inès",
           "François", "Élodie", "Mathieu"],
    "DE": ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Sophie", "Maximilian", "Jana", "Jürgen",
           "Katrin", "Tobias", "Björn"],
}  # fmt: skip
LAST_NAMES = {
    "BE": ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
           "De Smet", "Dubois", "Lambert", "Dupont", "Van den Broeck", "Vermeulen", "Lejeune"],
    "NL": ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser",
           "Smit", "Meijer", "de Boer", "Mulder", "Bos"],
    "FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
           "Leroy", "Moreau", "Lefèvre", "Garnier"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Köhler", "Schäfer"],
}  # fmt: skip
STREETS = {
    "BE": ["Kerkstraat", "Stationsstraat", "Rue de la Station", "Dorpsstraat", "Rue du Moulin",
           "Molenstraat", "Nieuwstraat", "Chaussée de Louvain"],
    "NL": ["Hoofdstraat", "Kerkstraat", "Schoolstraat", "Molenweg", "Dorpsstraat", "Julianalaan"],
    "FR": ["Rue de la République", "Avenue Jean Jaurès", "Rue Victor Hugo", "Rue Pasteur",
           "Boulevard Voltaire"],
    "DE": ["Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Lindenweg",
           "Bergstraße"],
}  # fmt: skip
STREET2 = {"BE": "bus {}", "NL": "{}-hoog", "FR": "Appartement {}", "DE": "Wohnung {}"}
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.be", "post.example.nl"]
COMPANIES = ["Bakkerij De Kroon", "Atelier Lumière", "Schreinerei Vogt GmbH", "Van Dijk Transport",
             "Studio Noord", "Boulangerie Martin", "Klusbedrijf Bos"]  # fmt: skip
FUNCTIONS = [
    {"en": "Mortgage advisor", "nl": "Kredietadviseur", "fr": "Conseiller crédit"},
    {"nl": "Verzekeringsadviseur", "en": "Insurance advisor"},
    {"fr": "Conseiller patrimonial", "nl": "Vermogensadviseur"},
    {"de": "Kundenberater", "en": "Client advisor"},
    {"en": "Branch manager", "nl": "Kantoordirecteur", "fr": "Directeur d'agence",
     "de": "Filialleiter"},
    {"nl": "Klantenadviseur"},
]  # fmt: skip
_LISTINGS: list[tuple[str, dict[str, str], list[str], int]] = [
    ("LST-1001", {"nl": "Appartement Gent Zuid", "en": "Apartment Ghent South"},
     ["apartment", "new-build", "ghent"], 0),
    ("LST-1002", {"nl": "Rijwoning Berchem"}, ["house", "renovation", "antwerp"], 1),
    ("LST-1003", {"fr": "Maison 3 chambres Uccle", "nl": "Woning 3 slaapkamers Ukkel"},
     ["house", "garden"], 2),
    ("LST-1004", {"fr": "Loft Outremeuse"}, ["loft", "city-centre"], 3),
    ("LST-1005", {"nl": "Nieuwbouw Amsterdam Noord", "en": "New build Amsterdam North"},
     ["apartment", "new-build", "energy-label-a"], 4),
    ("LST-1006", {"nl": "Herenhuis Kralingen"}, ["house", "monument"], 5),
    ("LST-1007", {"fr": "Studio Courbevoie", "en": "Studio Courbevoie"}, ["studio", "investment"], 7),
    ("LST-1008", {"de": "Eigentumswohnung Ehrenfeld"}, ["apartment", "cologne"], 9),
    ("LST-1009", {"de": "Altbauwohnung Prenzlauer Berg", "en": "Period flat Prenzlauer Berg"},
     ["apartment", "period", "berlin"], 10),
    ("LST-2001", {"en": "Green savings plan", "nl": "Groen spaarplan", "fr": "Épargne verte"},
     ["product", "esg"], -1),
    ("LST-2002", {"en": "Young starters package", "nl": "Startpakket jongeren"},
     ["product", "young", "promo"], -1),
    ("LST-2003", {"fr": "Pack indépendants", "nl": "Pakket zelfstandigen"}, ["product", "sme"], -1),
]  # fmt: skip
_LEAD_SEGMENTS = [
    ("RETAIL", "Retail customers"),
    ("PREF", "Preferred banking"),
    ("PRIV", "Private banking"),
    ("SME", "Self-employed and small businesses"),
    ("YOUNG", "Young adults (18-30)"),
]


@dataclass(slots=True)
class Office:
    """One office: its JSON object and what requests at it need to know."""

    data: Json
    country: str
    time_zone: str
    lat: float
    lon: float
    postal: str
    city: dict[str, str]
    customer_languages: tuple[str, ...]
    weight: float
    virtual: bool = False


@dataclass(slots=True)
class Question:
    """A question of a form, its JSON object and its answer options."""

    data: Json
    kind: str
    options: list[Json]


@dataclass(slots=True)
class Form:
    """A form (questionnaire, completion or cancellation form) and its questions."""

    id: str
    questions: list[Question]


@dataclass(slots=True)
class Subject:
    """A subject, its JSON object and the ids of its forms."""

    data: Json
    group: int
    questionnaire: str
    weight: float


@dataclass(slots=True)
class Employee:
    """An employee, their JSON object, home office and roles."""

    data: Json
    office: int
    roles: list[str]
    assignable: bool


@dataclass(slots=True)
class Catalog:
    """All reference data of one run."""

    offices: list[Office] = field(default_factory=list)
    subjects: list[Subject] = field(default_factory=list)
    forms: dict[str, Form] = field(default_factory=dict)
    employees: list[Employee] = field(default_factory=list)
    employees_by_office: dict[int, list[int]] = field(default_factory=dict)
    planners: list[int] = field(default_factory=list)
    listings: list[tuple[Json, int]] = field(default_factory=list)
    lead_segments: list[Json] = field(default_factory=list)
    seed: int = 0

    def customer(self, number: int, office: int) -> Json:
        """Return customer `number` (deterministic for the seed) living near `office`."""
        return make_customer(self.seed, number, self.offices[office])


def _first_then_rest(values: dict[str, str], first: str) -> dict[str, str]:
    return {first: values[first], **{k: v for k, v in values.items() if k != first}}


def _audit(rng: random.Random, base_ms: int) -> tuple[str, str]:
    created = base_ms + rng.randrange(0, 400 * DAY_MS)
    updated = created + rng.randrange(0, 200 * DAY_MS)
    return iso_ms(created), iso_ms(updated)


def phone(rng: random.Random, country: str, mobile: bool = True) -> str:
    """A fictional phone number in the national format of `country`."""
    prefix = _COUNTRY_PHONE[country]

    def digits(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    if country == "BE":
        return f"{prefix} 4{rng.randrange(70, 99)} {digits(2)} {digits(2)} {digits(2)}"
    if country == "NL":
        return f"{prefix} 6 {digits(4)} {digits(4)}"
    if country == "FR":
        return f"{prefix} {6 if mobile else 1} {digits(2)} {digits(2)} {digits(2)} {digits(2)}"
    return f"{prefix} 15{rng.randrange(10)} {digits(7)}"


def build_catalog(seed: int) -> Catalog:
    """Build the reference data of a run from its seed."""
    rng = random.Random(f"{seed}:catalog")
    base = date_to_ms(date(2020, 3, 1))
    cat = Catalog(seed=seed)
    office_weights = [1.4, 1.2, 1.5, 0.6, 1.3, 0.8, 0.7, 1.0, 0.5, 0.6, 0.9]
    for i, row in enumerate(_OFFICES):
        key, country, tz, postal, lat, lon, city, street1, street2, state, name, langs = row
        created, updated = _audit(rng, base)
        office_id = str(101 + i)
        loc = location(postal, country, lat, lon, city, street1, street2, state)
        first = next(iter(name))
        data = {
            "id": office_id,
            "active": True,
            "email": f"{key.lower()}@{BANK_DOMAIN}",
            "externalId": f"OFF-{key}",
            "phoneNumber": phone(rng, country, mobile=False),
            "timeZone": tz,
            "usesIndependentAgents": rng.random() < 0.2,
            "virtual": False,
            "location": loc,
            "translations": {
                "name": tr(name),
                "description": tr(partial(rng, _first_then_rest(_OFFICE_DESCRIPTIONS, first), 0.4)),
                "directions": tr(partial(rng, {first: _DIRECTIONS[first]}, 0.5))
                if rng.random() < 0.7 else [],
                "parkingInfo": tr({first: _PARKING[first]}) if rng.random() < 0.6 else [],
            },
            "createdAt": created,
            "updatedAt": updated,
            "deletedAt": None,
        }  # fmt: skip
        cat.offices.append(
            Office(data, country, tz, lat, lon, postal, city, langs, office_weights[i])
        )
    # one virtual office for video advice, without a street address
    created, updated = _audit(rng, base)
    virtual = {
        "id": str(101 + len(_OFFICES)),
        "active": True,
        "email": f"video@{BANK_DOMAIN}",
        "externalId": "OFF-VIDEO",
        "phoneNumber": "+32 78 15 15 15",
        "timeZone": "Europe/Brussels",
        "usesIndependentAgents": False,
        "virtual": True,
        "location": location(
            "1000", "BE", 50.8466, 4.3528, {"nl": "Brussel", "fr": "Bruxelles"}, {}, None, None
        ),
        "translations": {
            "name": tr({"en": "Video advice centre", "nl": "Videoadvies", "fr": "Conseil vidéo"}),
            "description": tr({"en": "Advisors available by video call, six days a week."}),
            "directions": [],
            "parkingInfo": [],
        },
        "createdAt": created,
        "updatedAt": updated,
        "deletedAt": None,
    }
    cat.offices.append(
        Office(
            virtual, "BE", "Europe/Brussels", 50.8466, 4.3528, "1000",
            {"nl": "Brussel", "fr": "Bruxelles"}, ("nl", "fr", "en"), 0.8, virtual=True,
        )
    )  # fmt: skip

    groups = []
    for g, (key, color, names) in enumerate(_GROUPS):
        created, updated = _audit(rng, base)
        groups.append(
            {
                "id": str(11 + g),
                "externalId": f"SG-{key}",
                "order": g + 1,
                "color": color,
                "image": f"https://cdn.{BANK_DOMAIN}/subject-groups/{key.lower()}.svg",
                "translations": {"name": tr(names)},
                "createdAt": created,
                "updatedAt": updated,
                "deletedAt": None,
            }
        )

    question_id = 3000
    option_id = 7000
    for f, (form_key, questions) in enumerate(_FORMS.items()):
        form = Form(id=str(601 + f), questions=[])
        for order, (kind, labels, options) in enumerate(questions):
            question_id += 1
            created, updated = _audit(rng, base)
            q = {
                "id": str(question_id),
                "externalId": f"{form_key}-{order + 1}",
                "order": order + 1,
                "translations": {"label": tr(partial(rng, labels, 0.8))},
                "createdAt": created,
                "updatedAt": updated,
                "deletedAt": None,
            }
            opts = []
            for value in options:
                option_id += 1
                opts.append(
                    {
                        "id": str(option_id),
                        "externalId": f"OPT-{option_id}",
                        "value": value,
                        "createdAt": created,
                        "updatedAt": updated,
                        "deletedAt": None,
                    }
                )
            form.questions.append(Question(q, kind, opts))
        cat.forms[form_key] = form

    group_forms = ["Q-MORT", "Q-INS", "Q-INV", "Q-DAY"]
    subject_weights = [3, 2, 1, 1.2, 2, 1.5, 0.4, 1, 2, 1.5, 0.8, 0.5, 2.5, 1.8, 0.6]
    for s, (g, key, names) in enumerate(_SUBJECTS):
        created, updated = _audit(rng, base)
        first = next(iter(names))
        desc = {first: _SUBJECT_DESCRIPTION.get(first, _SUBJECT_DESCRIPTION["en"])}
        if rng.random() < 0.5:
            desc.update({k: v for k, v in _SUBJECT_DESCRIPTION.items() if k in names})
        data = {
            "id": str(201 + s),
            "externalId": f"SUBJ-{key}",
            "enabledForCustomerUse": key not in ("CLAIM",),
            "enabledForInternalUse": True,
            "order": s + 1,
            "cancellationByAgentForm": {"id": cat.forms["F-CANCEL-AGENT"].id},
            "cancellationByCustomerForm": {"id": cat.forms["F-CANCEL-CUSTOMER"].id},
            "completionByAgentForm": {"id": cat.forms["F-COMPLETE"].id},
            "questionnaireForm": {"id": cat.forms[group_forms[g]].id},
            "subjectGroup": groups[g],
            "translations": {
                "name": tr(names),
                "description": tr(desc),
                "instructions": tr(partial(rng, _SUBJECT_INSTRUCTIONS, 0.5)) if g == 0 else [],
            },
            "createdAt": created,
            "updatedAt": updated,
            "deletedAt": "2025-06-30T08:00:00.000Z" if key == "ESTATE" else None,
        }
        cat.subjects.append(Subject(data, g, group_forms[g], subject_weights[s]))

    countries = [o.country for o in cat.offices]
    for e in range(40):
        office = e % len(cat.offices)
        country = countries[office]
        first = rng.choice(FIRST_NAMES[country])
        last = rng.choice(LAST_NAMES[country])
        if e < 2:
            roles = ["ADMIN", "AGENT"]
        elif e < 6:
            roles = ["CENTRAL_PLANNER", "AGENT"] if e % 2 else ["CENTRAL_PLANNER"]
        elif e < 17:
            roles = ["OFFICE_MANAGER", "AGENT"]
        else:
            roles = ["AGENT"]
        status = "SUSPENDED" if e == 39 else "PENDING" if e in (37, 38) else "ACTIVE"
        created, updated = _audit(rng, base)
        slug = f"{ascii_slug(first)}.{ascii_slug(last).replace(' ', '')}"
        emp_id = str(9001 + e)
        data = {
            "id": emp_id,
            "communicationEmail": f"{slug}@{BANK_DOMAIN}",
            "email": f"{slug}@{BANK_DOMAIN}" if rng.random() < 0.8 else f"{slug}{e}@{BANK_DOMAIN}",
            "externalId": f"EMP-{e + 1:04d}",
            "firstName": first,
            "lastName": last,
            "language": _COUNTRY_LANG[country] if rng.random() < 0.85 else "en",
            "onlinePlanning": rng.random() < 0.7,
            "phoneNumber": phone(rng, country),
            "profilePictureUrl": f"https://cdn.{BANK_DOMAIN}/avatars/{emp_id}.jpg",
            "staticVideoUrl": f"https://meet.{BANK_DOMAIN}/room/{slug}"
            if rng.random() < 0.6
            else None,
            "translations": {"function": tr(partial(rng, rng.choice(FUNCTIONS), 0.6))},
            "availableRoles": roles,
            "status": status,
            "timeZone": cat.offices[office].time_zone,
            "createdAt": created,
            "updatedAt": updated,
            "deletedAt": "2026-01-15T09:30:00.000Z" if status == "SUSPENDED" else None,
        }
        assignable = "AGENT" in roles or "OFFICE_MANAGER" in roles
        cat.employees.append(Employee(data, office, roles, assignable))
        if "CENTRAL_PLANNER" in roles:
            cat.planners.append(e)
        elif assignable:
            cat.employees_by_office.setdefault(office, []).append(e)

    for key, names, tags, office in _LISTINGS:
        created, updated = _audit(rng, base)
        if office >= 0:
            o = cat.offices[office]
            loc = location(
                o.postal, o.country, o.lat + rng.uniform(-0.03, 0.03),
                o.lon + rng.uniform(-0.03, 0.03), o.city,
                {o.customer_languages[0]: f"{rng.choice(STREETS[o.country])} {rng.randrange(1, 180)}"},
            )  # fmt: skip
            tz = o.time_zone
        else:
            loc = None
            tz = "Europe/Brussels"
        first = next(iter(names))
        data = {
            "id": str(801 + len(cat.listings)),
            "active": key != "LST-1004",
            "externalId": key,
            "timeZone": tz,
            "tags": tags,
            "location": loc,
            "translations": {
                "name": tr(names),
                "description": tr({first: f"{names[first]} - {', '.join(tags)}"}),
            },
            "createdAt": created,
            "updatedAt": updated,
            "deletedAt": None,
        }
        cat.listings.append((data, office))

    for i, (code, description) in enumerate(_LEAD_SEGMENTS):
        created, updated = _audit(rng, base)
        cat.lead_segments.append(
            {
                "id": str(51 + i),
                "code": code,
                "description": description,
                "createdAt": created,
                "updatedAt": updated,
                "deletedAt": None,
            }
        )
    return cat


def make_customer(seed: int, number: int, office: Office) -> Json:
    """Build customer `number` deterministically from the seed (fake but realistic data)."""
    rng = random.Random(f"{seed}:customer:{number}")
    country = office.country if rng.random() < 0.92 else rng.choice(["BE", "NL", "FR", "DE"])
    if country == office.country:
        language = rng.choice(office.customer_languages)
    else:
        language = _COUNTRY_LANG[country]
    if rng.random() < 0.05:
        language = "en"
    first = rng.choice(FIRST_NAMES[country])
    last = rng.choice(LAST_NAMES[country])
    company = rng.choice(COMPANIES) if rng.random() < 0.08 else None
    slug = f"{ascii_slug(first)}.{ascii_slug(last).replace(' ', '')}"
    if rng.random() < 0.3:
        slug += str(rng.randrange(1, 99))
    lang0 = _COUNTRY_LANG[country]
    if country == office.country:
        lat = office.lat + rng.uniform(-0.08, 0.08)
        lon = office.lon + rng.uniform(-0.12, 0.12)
        postal, city = office.postal, office.city
    else:
        ref = {
            "BE": (50.85, 4.35, "1000", "Brussel"),
            "NL": (52.37, 4.9, "1011 AB", "Amsterdam"),
            "FR": (48.86, 2.35, "75001", "Paris"),
            "DE": (52.52, 13.4, "10115", "Berlin"),
        }
        lat, lon, postal, name = ref[country]  # fmt: skip
        city = {lang0: name}
    loc = location(
        postal,
        country,
        lat,
        lon,
        city,
        {lang0: f"{rng.choice(STREETS[country])} {rng.randrange(1, 250)}"},
        {lang0: STREET2[country].format(rng.randrange(1, 30))} if rng.random() < 0.15 else None,
    )
    return {
        "id": str(100000 + number),
        "company": company,
        "customerNumber": f"C{number * 7919 % 10_000_000:07d}",
        "email": f"{slug}@{rng.choice(EMAIL_DOMAINS)}",
        "existing": rng.random() < 0.6,
        "externalId": f"CRM-{number:08d}" if rng.random() < 0.7 else None,
        "firstName": first,
        "lastName": last,
        "language": language,
        "phoneNumber": phone(rng, country),
        "timeZone": office.time_zone,
        "location": loc,
    }

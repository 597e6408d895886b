"""Deterministic population of the simulated bank: org, locations, services, queues, people.

``build_population(seed, n_customers, n_agents)`` is the single entry point the simulator and
the channel renderers share; ``build_customers`` / ``build_agents`` are its parts. The same
seed gives the same objects (names, numbers, UUIDs) in any process: every random stream is a
``random.Random`` seeded with a string derived from the seed and the stream's purpose.

Numbers are generated per country and kept only when ``phonenumbers`` says they are valid
(``reference/channels.md`` §4): Colombian mobiles ``+57 3xx xxx xxxx``, Bogotá (601) and
Medellín (604) landlines, Mexican mobiles ``+52 55/33/81 …`` (WhatsApp id ``521…``),
Argentine mobiles ``+54 9 11 …`` (WhatsApp id ``549…``), US numbers (Miami, New York,
Houston…).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import phonenumbers

from simulator.model import (
    BANK_DOMAIN,
    BANK_NAME,
    Agent,
    Customer,
    Location,
    PhoneNumber,
    Population,
    Queue,
    Service,
)

__all__ = [
    "build_agents",
    "build_customers",
    "build_locations",
    "build_population",
    "build_queues",
    "build_services",
    "rng_for",
    "uuid_from",
]

# fmt: off
FIRST_F = (
    "Camila", "Valentina", "Daniela", "Laura", "María", "Natalia", "Paola", "Carolina", "Lorena",
    "Diana", "Angélica", "Sandra", "Marcela", "Luisa", "Tatiana", "Yuliana", "Viviana", "Adriana",
    "Juliana", "Liliana", "Catalina", "Mónica", "Johana", "Gloria", "Ximena", "Paula", "Alejandra",
    "Isabel", "Claudia", "Yesenia", "Ana", "Sofía", "Mariana", "Gabriela", "Andrea", "Luz",
    "Martha", "Beatriz", "Ángela", "Jimena",
)
FIRST_M = (
    "Andrés", "Juan", "Carlos", "Santiago", "Felipe", "Sebastián", "Diego", "Julián", "Mateo",
    "Alejandro", "Jorge", "Nicolás", "Óscar", "Javier", "Hernán", "Mauricio", "Cristian", "Fabián",
    "Ricardo", "Wilson", "Esteban", "Iván", "Gustavo", "Édgar", "Camilo", "David", "Manuel",
    "Samuel", "Fernando", "Rubén", "Luis", "José", "Miguel", "Álvaro", "Germán", "Jhon",
    "Sergio", "Daniel", "Héctor", "Pablo",
)
LAST = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro",
    "Gutiérrez", "Torres", "Ortiz", "Suárez", "Ruiz", "Álvarez", "Romero", "Herrera", "Valencia",
    "Quintero", "Restrepo", "Cárdenas", "Salazar", "Mejía", "Ospina", "Zapata", "Cardona",
    "Osorio", "Arango", "Giraldo", "Londoño", "Pineda", "Bermúdez", "Peña", "Cortés", "Rincón",
    "Acosta", "Parra", "Guerrero", "Mendoza", "Cifuentes", "Beltrán", "Navarro", "Villegas",
    "Betancur", "Montoya", "Agudelo", "Franco", "Escobar", "Duque", "Arias", "Sierra", "Correa",
)
FIRST_EN = (
    "James", "Mary", "John", "Jennifer", "Michael", "Linda", "David", "Sarah", "Robert", "Emily",
    "William", "Jessica", "Daniel", "Ashley", "Thomas", "Megan", "Kevin", "Laura", "Brian", "Rachel",
)
LAST_EN = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis",
)
FIRST_MX = ("Alejandro", "Guadalupe", "Fernanda", "Ximena", "Emiliano", "Regina", "Diego",
            "Valeria", "Rodrigo", "Itzel", "Jesús", "Lupita")
LAST_MX = ("Hernández", "García", "Martínez", "López", "González", "Pérez", "Sánchez",
           "Ramírez", "Flores", "Cruz", "Morales", "Reyes")
FIRST_AR = ("Facundo", "Agustina", "Lucía", "Martín", "Florencia", "Nicolás", "Micaela",
            "Gonzalo", "Milagros", "Franco", "Brenda", "Tomás")
LAST_AR = ("González", "Rodríguez", "Fernández", "López", "Martínez", "Pereyra", "Gómez",
           "Sosa", "Romero", "Álvarez", "Benítez", "Acosta")

CO_MOBILE = (300, 301, 302, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320,
             321, 322, 323, 324, 350, 351)
MX_AREAS = ("55", "55", "55", "33", "33", "81", "81", "222", "442", "999")
US_AREAS = ("305", "305", "786", "954", "407", "212", "718", "713", "832", "201", "617")
# fmt: on

# country of the customer's primary number; the rest Colombian
FOREIGN_SHARE = (("MX", 0.03), ("AR", 0.02), ("US", 0.035))
SEGMENTS = (("personas", 0.72), ("preferente", 0.15), ("premium", 0.05), ("pyme", 0.08))


def rng_for(seed: int, *purpose: object) -> random.Random:
    """An independent, reproducible random stream for ``seed`` and a purpose."""
    return random.Random(":".join(map(str, (seed, *purpose))))


def uuid_from(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _valid(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return False


def _draw(rng: random.Random, make) -> str:
    for _ in range(50):
        n = make(rng)
        if _valid(n):
            return n
    raise RuntimeError("could not draw a valid number")  # pragma: no cover


def co_mobile(rng: random.Random) -> str:
    """A Colombian mobile, ``+57 3xx xxx xxxx``: valid by construction (every prefix of
    :data:`CO_MOBILE` takes any 7 subscriber digits except 324 0xx xxxx; the tests check it), so no
    per-number validation is needed."""
    pre = rng.choice(CO_MOBILE)
    sub = rng.randrange(10**7)
    if pre == 324 and sub < 10**6:  # 324 0xx xxxx is not assigned
        sub += 10**6
    return f"+57{pre}{sub:07d}"


def co_landline(rng: random.Random, area: str | None = None) -> str:
    """A Colombian fixed line ``+57 60x xxx xxxx`` (subscriber 2000000–8999999, all valid)."""
    a = area or rng.choice(("601", "601", "601", "604", "604", "602", "605"))
    return f"+57{a}{rng.randrange(2_000_000, 9_000_000)}"


def mx_mobile(rng: random.Random) -> str:
    def make(r: random.Random) -> str:
        area = r.choice(MX_AREAS)
        return f"+52{area}{r.randrange(10 ** (10 - len(area) - 1), 10 ** (10 - len(area)))}"

    return _draw(rng, make)


def ar_mobile(rng: random.Random) -> str:
    return _draw(rng, lambda r: f"+54911{r.randrange(2000_0000, 7000_0000)}")


def us_number(rng: random.Random) -> str:
    def make(r: random.Random) -> str:
        nxx = r.randrange(200, 1000)
        if nxx == 555:
            nxx = 556
        return f"+1{r.choice(US_AREAS)}{nxx}{r.randrange(10000):04d}"

    return _draw(rng, make)


def whatsapp_id(phone: PhoneNumber) -> str:
    """The WhatsApp id of a mobile: digits; MX keeps the pre-2019 ``1`` (``521…``)."""
    d = phone.e164.lstrip("+")
    if phone.country == "MX":
        return "521" + d[2:]
    return d  # AR mobiles are +549… already; CO 57…; US 1…


def _pick_weighted(rng: random.Random, pairs) -> str:
    x = rng.random()
    acc = 0.0
    for k, w in pairs:
        acc += w
        if x < acc:
            return k
    return pairs[-1][0]


def _ascii(s: str) -> str:
    table = str.maketrans("áéíóúÁÉÍÓÚñÑüÜ", "aeiouAEIOUnNuU")
    return s.translate(table).lower().replace(" ", "")


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------


def build_customers(seed: int, n_customers: int) -> tuple[Customer, ...]:
    """``n_customers`` bank customers (deterministic). Mostly Colombian; ~3% MX, 2% AR, 3.5% US."""
    out: list[Customer] = []
    for i in range(n_customers):
        r = rng_for(seed, "customer", i)
        x = r.random()
        country = "CO"
        acc = 0.0
        for c, share in FOREIGN_SHARE:
            acc += share
            if x < acc:
                country = c
                break
        female = r.random() < 0.52
        if country == "MX":
            first, last = r.choice(FIRST_MX), f"{r.choice(LAST_MX)} {r.choice(LAST_MX)}"
            phones = [PhoneNumber(mx_mobile(r), "mobile", "MX", True)]
        elif country == "AR":
            first, last = r.choice(FIRST_AR), r.choice(LAST_AR)
            phones = [PhoneNumber(ar_mobile(r), "mobile", "AR", True)]
        elif country == "US":
            if r.random() < 0.55:  # Colombians living in the US
                first = r.choice(FIRST_F if female else FIRST_M)
                last = f"{r.choice(LAST)} {r.choice(LAST)}"
            else:
                first, last = r.choice(FIRST_EN), r.choice(LAST_EN)
            phones = [PhoneNumber(us_number(r), "mobile", "US", True)]
        else:
            first = r.choice(FIRST_F if female else FIRST_M)
            last = f"{r.choice(LAST)} {r.choice(LAST)}"
            phones = [PhoneNumber(co_mobile(r), "mobile", "CO", True)]
            if r.random() < 0.28:
                phones.append(PhoneNumber(co_landline(r), "fixed_line", "CO"))
        if country != "CO" and r.random() < 0.35:  # keeps a Colombian mobile too
            phones.append(PhoneNumber(co_mobile(r), "mobile", "CO"))
        if country == "US":
            language = "en" if first in FIRST_EN or r.random() < 0.25 else "es"
        else:
            language = "en" if r.random() < 0.015 else "es"
        wa = whatsapp_id(phones[0]) if r.random() < 0.9 else None
        email = (
            f"{_ascii(first)}.{_ascii(last.split()[0])}{r.randrange(100)}@"
            f"{r.choice(('gmail.com', 'hotmail.com', 'outlook.com', 'yahoo.com'))}"
            if r.random() < 0.8
            else None
        )
        doc = (
            str(r.randrange(10_000_000, 1_200_000_000))
            if country == "CO"
            else f"P{r.randrange(10**8):08d}"
        )
        out.append(
            Customer(
                customer_id=f"C{i + 1:07d}",
                name=f"{first} {last}",
                first_name=first,
                last_name=last,
                language=language,
                phones=tuple(phones),
                whatsapp_id=wa,
                segment=_pick_weighted(r, SEGMENTS),
                email=email,
                document_number=doc,
                country=country,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Locations, services, queues
# ---------------------------------------------------------------------------------------------


def build_locations(seed: int) -> tuple[Location, ...]:
    r = rng_for(seed, "locations")
    return (
        Location(uuid_from(r), "Bogotá Centro de Contacto", "Bogotá", "Bogotá D.C.",
                 "Calle 72 # 10-07", "110231", "+576017460000", "America/Bogota", -300,
                 4.6561, -74.0552),
        Location(uuid_from(r), "Medellín Centro de Contacto", "Medellín", "Antioquia",
                 "Carrera 43A # 1-50", "050021", "+576046040000", "America/Bogota", -300,
                 6.2088, -75.5679),
    )  # fmt: skip


def build_services(seed: int, locations: tuple[Location, ...]) -> tuple[Service, ...]:
    r = rng_for(seed, "services")
    bog = locations[0].location_uuid
    return (
        Service("aa_principal", "AA Principal", uuid_from(r), "AutomatedAttendantVideo",
                "+576017460000", "1000", bog),
        Service("aa_tollfree", "AA Línea Gratuita", uuid_from(r), "AutomatedAttendantVideo",
                "+5718000915100", "1001", bog),
        Service("ai_agent", "Asistente Virtual IA", uuid_from(r), "VirtualLine",
                "+576017460900", "1900", bog),
    )  # fmt: skip


def build_queues(seed: int, locations: tuple[Location, ...]) -> tuple[Queue, ...]:
    r = rng_for(seed, "queues")
    bog, med = locations[0].location_uuid, locations[1].location_uuid
    return (
        Queue("tarjetas", "Tarjetas", uuid_from(r), "+576017460101", "1101", bog, "1", False, "es", 15, 600, None),
        Queue("creditos", "Créditos", uuid_from(r), "+576017460102", "1102", bog, "2", False, "es", 15, 600, "cuentas"),
        Queue("cuentas", "Cuentas", uuid_from(r), "+576046040103", "1103", med, "0", False, "es", 15, 600, None),
        Queue("fraude", "Fraude", uuid_from(r), "+576017460104", "1104", bog, "4", False, "es", 12, 300, "bloqueo"),
        Queue("bloqueo", "Bloqueo 24/7", uuid_from(r), "+576017460105", "1105", bog, "5", True, "es", 12, 900, None),
        Queue("english", "English Service", uuid_from(r), "+576017460109", "1109", med, "9", False, "en", 15, 480, "cuentas"),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Agents and other users
# ---------------------------------------------------------------------------------------------

# primary-skill shares of inbound agents (queue key, share)
_SKILL_SHARES = (
    ("cuentas", 0.30), ("tarjetas", 0.27), ("creditos", 0.15), ("fraude", 0.10),
    ("bloqueo", 0.13), ("english", 0.05),
)  # fmt: skip
_SECOND_SKILL = {
    "cuentas": ("tarjetas", "creditos", "english"),
    "tarjetas": ("cuentas", "bloqueo", "fraude"),
    "creditos": ("cuentas", "tarjetas"),
    "fraude": ("bloqueo", "tarjetas"),
    "bloqueo": ("fraude", "tarjetas"),
    "english": ("cuentas", "tarjetas"),
}
_MODELS = ("Cisco 8851", "Cisco 8845", "Cisco 9861", "Cisco 8841")


def _name(r: random.Random, used: set[str]) -> tuple[str, str, str]:
    for attempt in range(1000):
        first = r.choice(FIRST_F if r.random() < 0.58 else FIRST_M)
        last = r.choice(LAST) if attempt < 20 else f"{r.choice(LAST)} {r.choice(LAST)}"
        name = f"{first} {last}"
        if name not in used:
            used.add(name)
            return name, first, last
    raise RuntimeError("names exhausted")  # pragma: no cover


def build_agents(
    seed: int,
    n_agents: int,
    locations: tuple[Location, ...] | None = None,
    queues: tuple[Queue, ...] | None = None,
    *,
    collections_share: float = 0.15,
    supervisors_per_agent: float = 0.08,
    backoffice_per_agent: float = 0.12,
) -> tuple[Agent, ...]:
    """``n_agents`` call-handling agents (inbound + collections) plus supervisors and back office.

    Roles: ``agent`` (inbound queues; skills = queue keys, primary first), ``collections``
    (outbound dialer, no queue), ``supervisor`` and ``backoffice`` (extra users making and
    receiving internal calls; they are not counted in ``n_agents``). Shifts of inbound agents:
    ``morning`` 07–15, ``afternoon`` 11–19 (Mon–Fri; part of them also Saturday 08–14),
    ``evening`` 15–23 and ``night`` 23–07 (24/7 lines: bloqueo, fraude).
    """
    if n_agents < 1:
        raise ValueError("n_agents must be >= 1")
    locations = locations or build_locations(seed)
    queues = queues or build_queues(seed, locations)
    qkeys = {q.key for q in queues}
    r = rng_for(seed, "agents")
    used: set[str] = set()
    n_coll = int(round(n_agents * collections_share)) if n_agents >= 5 else 0
    n_in = n_agents - n_coll
    n_sup = max(1, int(round(n_agents * supervisors_per_agent)))
    n_bo = max(1, int(round(n_agents * backoffice_per_agent)))

    # primary skills by share, deterministic counts (largest remainder), shuffled
    shares = [(k, s) for k, s in _SKILL_SHARES if k in qkeys]
    tot = sum(s for _, s in shares)
    raw = [(k, n_in * s / tot) for k, s in shares]
    counts = {k: int(x) for k, x in raw}
    for k, _x in sorted(raw, key=lambda kx: kx[1] - int(kx[1]), reverse=True):
        if sum(counts.values()) >= n_in:
            break
        counts[k] += 1
    # small centers: make sure the 24/7 line has someone
    if n_in >= 2 and counts.get("bloqueo", 1) == 0:
        big = max(counts, key=counts.get)
        counts[big] -= 1
        counts["bloqueo"] = 1
    prim = [k for k, c in counts.items() for _ in range(c)]
    r.shuffle(prim)

    roles = (
        ["agent"] * n_in + ["collections"] * n_coll + ["supervisor"] * n_sup + ["backoffice"] * n_bo
    )
    agents: list[Agent] = []
    base_created = datetime(2023, 1, 9, 14, 0, tzinfo=UTC)
    seen: dict[str, int] = {}  # agents per primary skill so far: shifts alternate within a queue
    for i, role in enumerate(roles):
        name, first, last = _name(r, used)
        uid = uuid_from(r)
        loc = locations[0] if r.random() < 0.6 else locations[1]
        ext = str(2001 + i) if i < 7999 else str(20000 + i)
        email = f"{_ascii(first)}.{_ascii(last.split()[0])}{i + 1}@{BANK_DOMAIN}"
        if role == "agent":
            p = prim[i]
            skills = [p]
            if r.random() < 0.28:
                skills.append(r.choice([s for s in _SECOND_SKILL[p] if s in qkeys] or [p]))
            skills = list(dict.fromkeys(skills))
            languages = ("es", "en") if "english" in skills or r.random() < 0.06 else ("es",)
            k = seen.get(p, 0)
            seen[p] = k + 1
            if p == "bloqueo":  # the 24/7 line: days, evenings and nights
                shift = ("morning", "evening", "afternoon", "night")[k % 4]
            elif p == "fraude":
                shift = ("morning", "afternoon", "evening", "morning", "afternoon")[k % 5]
            else:
                shift = ("morning", "afternoon")[k % 2]
            phone = None
        elif role == "collections":
            skills, languages, phone = [], ("es",), None
            shift = "morning" if r.random() < 0.5 else "afternoon"
        else:
            skills, languages = [], ("es", "en") if r.random() < 0.2 else ("es",)
            shift = "day"
            area = loc.main_number[3:6]
            phone = co_landline(r, area)
        desk = r.random() < 0.45
        mac = "".join(f"{r.randrange(256):02X}" for _ in range(6)) if desk else ""
        agents.append(
            Agent(
                agent_id=f"A{i + 1:04d}",
                name=name,
                first_name=first,
                last_name=last,
                email=email,
                extension=ext,
                user_uuid=uid,
                location_uuid=loc.location_uuid,
                location_name=loc.name,
                phone_number=phone,
                skills=tuple(skills),
                role=role,
                shift=shift,
                languages=languages,
                client_type="WXC_DEVICE" if desk else "WXC_CLIENT",
                device_mac=mac,
                device_model=r.choice(_MODELS) if desk else "",
                created=base_created
                + timedelta(days=r.randrange(0, 700), seconds=r.randrange(86400)),
            )
        )
    return tuple(agents)


def build_population(seed: int, n_customers: int, n_agents: int = 50) -> Population:
    """The whole cast for ``seed``: org, locations, services, queues, agents, customers."""
    locations = build_locations(seed)
    queues = build_queues(seed, locations)
    r = rng_for(seed, "org")
    return Population(
        seed=seed,
        org_uuid=uuid_from(r),
        org_name=BANK_NAME,
        domain=BANK_DOMAIN,
        locations=locations,
        queues=queues,
        services=build_services(seed, locations),
        agents=build_agents(seed, n_agents, locations, queues),
        customers=build_customers(seed, n_customers),
    )

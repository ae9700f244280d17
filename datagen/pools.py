"""Pools of realistic values, built with Faker once per run (a few thousand calls).

Spark then picks from these pools by hashing row ids, so Faker's cost does not grow with
`--records`. Seeded with `Faker.seed_instance(seed)`: the same seed gives the same pools.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

INDUSTRIES = (
    "Technology", "Manufacturing", "Retail", "Healthcare", "Financial Services", "Education",
    "Energy", "Media", "Telecommunications", "Transportation", "Hospitality", "Construction",
)  # fmt: skip
ACCOUNT_TYPES = ("Customer", "Prospect", "Partner")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Advertisement", "Email", "Other")
CAMPAIGN_TYPES = ("Webinar", "Email", "Conference", "Paid Search", "Social", "Direct Mail", "Partner")
CAMPAIGN_STATUSES = ("Planned", "In Progress", "Completed", "Aborted")
MEMBER_STATUSES = ("Sent", "Opened", "Responded")
STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Proposal", "Negotiation", "Closed Won", "Closed Lost",
)  # fmt: skip
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
SEGMENTS = ("Enterprise", "Mid-Market", "SMB")
ORDER_STATUSES = ("placed", "shipped", "delivered", "returned", "cancelled")
CHANNELS = ("web", "mobile", "partner", "sales")
PRODUCT_CATEGORIES = ("Software", "Hardware", "Services", "Training", "Support", "Accessories")
RATINGS = ("Hot", "Warm", "Cold")
# (country as sales types it, ISO code, region)
COUNTRIES = (
    ("United States", "US", "AMER"), ("USA", "US", "AMER"), ("Canada", "CA", "AMER"),
    ("Brazil", "BR", "AMER"), ("Mexico", "MX", "AMER"), ("United Kingdom", "GB", "EMEA"),
    ("UK", "GB", "EMEA"), ("Germany", "DE", "EMEA"), ("France", "FR", "EMEA"),
    ("Netherlands", "NL", "EMEA"), ("Spain", "ES", "EMEA"), ("Sweden", "SE", "EMEA"),
    ("India", "IN", "APAC"), ("Japan", "JP", "APAC"), ("Australia", "AU", "APAC"),
    ("Singapore", "SG", "APAC"),
)  # fmt: skip


@dataclass(frozen=True)
class Pools:
    """Faker-built value pools; every tuple is non-empty."""

    companies: tuple[str, ...]
    domains: tuple[str, ...]  # same length as companies: the company's web domain
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[str, ...]
    titles: tuple[str, ...]
    phones: tuple[str, ...]
    products: tuple[str, ...]
    campaign_words: tuple[str, ...]

    def by_name(self) -> dict[str, tuple[str, ...]]:
        """Every pool, Faker-built and constant, by name."""
        faker_built = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**faker_built, **CONSTANT_POOLS}


# Pools that do not come from Faker, by the name the builders use.
CONSTANT_POOLS: dict[str, tuple[str, ...]] = {
    "industries": INDUSTRIES,
    "account_types": ACCOUNT_TYPES,
    "lead_sources": LEAD_SOURCES,
    "campaign_types": CAMPAIGN_TYPES,
    "campaign_statuses": CAMPAIGN_STATUSES,
    "member_statuses": MEMBER_STATUSES,
    "stages": STAGES,
    "currencies": CURRENCIES,
    "segments": SEGMENTS,
    "order_statuses": ORDER_STATUSES,
    "channels": CHANNELS,
    "product_categories": PRODUCT_CATEGORIES,
    "ratings": RATINGS,
    "country_names": tuple(c[0] for c in COUNTRIES),
    "country_codes": tuple(c[1] for c in COUNTRIES),
    "country_regions": tuple(c[2] for c in COUNTRIES),
    "account_suffixes": ("", "", "", " Holdings", " Group", " International", " Labs", " Systems"),
}


_PRODUCT_TIERS = ("Pro", "Lite", "Max", "One", "X")


def _unique(values: list[str], size: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
        if len(seen) == size:
            break
    return tuple(seen)


@functools.lru_cache(maxsize=4)
def build_pools(seed: int, size: int = 2000) -> Pools:
    """Build all pools with one seeded Faker; about `size` values per large pool."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    companies = _unique([fake.company() for _ in range(size * 2)], size)
    domains = tuple(
        "".join(ch for ch in name.lower().split(",")[0] if ch.isalnum())[:24] + f"{i % 97}.example.com"
        for i, name in enumerate(companies)
    )
    products = _unique(
        [
            f"{fake.color_name()} {fake.word().capitalize()} {fake.random_element(_PRODUCT_TIERS)}"
            for _ in range(800)
        ],
        400,
    )
    return Pools(
        companies=companies,
        domains=domains,
        first_names=_unique([fake.first_name() for _ in range(size)], size // 2),
        last_names=_unique([fake.last_name() for _ in range(size)], size // 2),
        cities=_unique([fake.city() for _ in range(size)], size // 4),
        titles=_unique([fake.job() for _ in range(size // 2)], size // 4),
        phones=tuple(fake.phone_number() for _ in range(size // 2)),
        products=products,
        campaign_words=_unique([fake.catch_phrase() for _ in range(size // 4)], size // 8),
    )

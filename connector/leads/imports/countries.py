"""Country cells: ISO 3166-1 alpha-3 codes, from pycountry, with a suggestion for a name, an
alpha-2 code or a near miss ("Country: 'United Kingdom' is not a valid code; did you mean 'GBR'?")."""

from __future__ import annotations

import difflib

import pycountry

from connector.leads.imports.text import Invalid, fold

COUNTRY_ALIASES = {
    "UK": "GBR", "Great Britain": "GBR", "Britain": "GBR", "England": "GBR", "Scotland": "GBR", "Wales": "GBR",
    "Northern Ireland": "GBR", "America": "USA", "U.S.A.": "USA", "Holland": "NLD", "The Netherlands": "NLD",
    "Russia": "RUS", "Czech Republic": "CZE", "Turkey": "TUR", "Ivory Coast": "CIV", "UAE": "ARE",
    "Korea": "KOR", "South Korea": "KOR", "North Korea": "PRK", "Macedonia": "MKD", "Swaziland": "SWZ",
    "Burma": "MMR", "Cape Verde": "CPV", "Vatican": "VAT", "Palestine": "PSE", "Brunei": "BRN", "East Timor": "TLS",
}
"""Everyday names pycountry's names do not cover, for the suggestion."""

COUNTRIES: dict[str, str] = {country.alpha_3: country.name for country in pycountry.countries}
"""ISO 3166-1 alpha-3 code -> short name."""


def _lookup() -> dict[str, str]:
    """Folded alpha-2 codes and every name pycountry knows (short, official, common) -> alpha-3."""
    found: dict[str, str] = {}
    for country in pycountry.countries:
        for spelling in (country.alpha_2, country.name, getattr(country, "official_name", None),
                         getattr(country, "common_name", None)):
            if spelling:
                found.setdefault(fold(spelling), country.alpha_3)
    for alias, alpha3 in COUNTRY_ALIASES.items():
        found[fold(alias)] = alpha3
    return found


_LOOKUP = _lookup()


def suggest_country(value: str) -> str | None:
    """The alpha-3 code a country name, alpha-2 code or near-miss most likely means."""
    folded = fold(value)
    if folded in _LOOKUP:
        return _LOOKUP[folded]
    names = [key for key in _LOOKUP if len(key) > 3]
    close = difflib.get_close_matches(folded, names, n=1, cutoff=0.85)
    return _LOOKUP[close[0]] if close else None


def parse_country(value: str) -> str:
    """The cell's alpha-3 code (any case); Invalid with a suggestion for anything else."""
    code = value.strip().upper()
    if code in COUNTRIES:
        return code
    suggestion = suggest_country(value)
    if suggestion:
        raise Invalid(f"is not a valid code; did you mean '{suggestion}'?")
    raise Invalid("is not a valid ISO 3166 alpha-3 country code (e.g. USA, GBR, DEU)")

"""Tokenizing and measure parsing shared by the lexical and retrieval features."""

from __future__ import annotations

import re
from dataclasses import dataclass

_STOPWORDS = "a an and are as at be by for from has in into is it of on or over per that the this to under up with x"
STOPWORDS = frozenset(_STOPWORDS.split(" "))
_TOKEN = re.compile(r"[a-z0-9]+(?:[./][0-9]+)*")
_NUMBER = r"(?:\d+-\d+/\d+|\d+/\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+)"
# Canonical unit -> its spellings (lower case). Longer spellings are tried first, so "cu. ft." is not read as "ft".
UNIT_SPELLINGS: dict[str, tuple[str, ...]] = {  # fmt: skip
    "cu_ft": ("cu. ft.", "cu ft", "cubic feet"),
    "sq_ft": ("sq. ft.", "sq ft", "square feet"),
    "in": ("in.", "inch", "inches", "in", '"'),
    "ft": ("ft.", "ft", "foot", "feet", "'"),
    "w": ("watt", "watts", "w"),
    "v": ("volt", "volts", "v"),
    "a": ("amp", "amps", "a"),
    "gal": ("gal.", "gal", "gallon", "gallons"),
    "lb": ("lb.", "lbs.", "lb", "lbs", "pound"),
    "oz": ("oz.", "oz"),
    "qt": ("qt.", "qt", "quart"),
    "mm": ("mm",),
    "cm": ("cm",),
    "btu": ("btu",),
    "ga": ("gauge", "ga"),
    "k": ("k",),
    "cfm": ("cfm",),
    "hp": ("hp",),
    "psi": ("psi",),
    "gpm": ("gpm",),
    "pk": ("pack", "pk"),
    "pc": ("piece", "pc"),
    "ton": ("ton",),
    "seer": ("seer",),
    "light": ("light", "lights"),
    "gang": ("gang",),
    "tier": ("tier",),
}
UNITS = {spelling: unit for unit, spellings in UNIT_SPELLINGS.items() for spelling in spellings}
_UNIT_ALTERNATION = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_MEASURE = re.compile(rf"({_NUMBER})\s?-?\s?({_UNIT_ALTERNATION})(?![a-z])")
_NUMBER_ONLY = re.compile(rf"(?<![a-z0-9]){_NUMBER}(?![0-9])")


def stem(token: str) -> str:
    """A deliberately light stemmer: plural 's'/'es' dropped from words longer than 3 letters."""
    if len(token) > 4 and token.endswith("es") and token[-3] in "sxz":
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss") and not token[-2].isdigit():
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed word and number tokens, stopwords dropped (order kept, duplicates kept)."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def number_value(text: str) -> float:
    """'1-1/4' -> 1.25, '3/4' -> 0.75, '1,000' -> 1000.0 (a zero denominator counts as 0)."""
    text = text.replace(",", "")
    whole, _, frac = text.rpartition("-") if "/" in text else (text, "", "")
    numerator, _, denominator = frac.partition("/")
    fraction = int(numerator) / int(denominator) if frac and int(denominator) else 0.0
    return round(float(whole or 0) + fraction, 4)


@dataclass(frozen=True)
class Parsed:
    """What the lexical features need from one text."""

    text: str
    tokens: tuple[str, ...]
    numbers: frozenset[float]
    measures: frozenset[tuple[float, str]]
    token_set: frozenset[str]


def parse(text: str) -> Parsed:
    lower = text.lower()
    measures = frozenset((number_value(n), UNITS[u]) for n, u in _MEASURE.findall(lower))
    numbers = frozenset(number_value(n) for n in _NUMBER_ONLY.findall(lower))
    tokens = tuple(tokenize(lower))
    return Parsed(text=lower, tokens=tokens, numbers=numbers, measures=measures, token_set=frozenset(tokens))

"""Personal values in text: find each kind, check it (checksums where it has one), mask it.

    >>> [(f.kind.value, f.text) for f in find_personal("mail ana@example.org or call "
    ...                                                "+44 20 7946 0958")]
    [('email', 'ana@example.org'), ('phone', '+44 20 7946 0958')]
    >>> mask_value(PersonalKind.CARD, "4242 4242 4242 4242")
    '**** **** **** 4242'

A candidate is found by a pattern and kept only if it passes the kind's own check: Luhn and an
issuer prefix for cards, mod-97 and the country's length for IBANs, the check letter of a
Spanish DNI/NIE or an Italian codice fiscale, the allocation rules of a US SSN and a UK NINO,
``ipaddress`` for IP addresses. Patterns are bounded (no nested repetition), so a hostile cell
costs time linear in its length, and cells are cut at ``MAX_CHARS_SCANNED``.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from trainforge.data.person_names import GIVEN_NAMES, SURNAMES

MAX_CHARS_SCANNED = 10_000  # of one cell: a longer cell is scanned in its first 10k characters


class PersonalKind(StrEnum):
    """A kind of personal data; its value is what reports and manifests say."""

    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card_number"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    IP_ADDRESS = "ip_address"
    STREET_ADDRESS = "street_address"

    @property
    def described(self) -> str:
        """Plural words for a sentence: "holds e-mail addresses"."""
        return _DESCRIBED[self]

    @property
    def placeholder(self) -> str:
        """What ``mask`` puts in place of a value of this kind."""
        return f"<{self.name}>"


_DESCRIBED = {
    PersonalKind.NAME: "personal names", PersonalKind.EMAIL: "e-mail addresses",
    PersonalKind.PHONE: "phone numbers", PersonalKind.CARD: "payment card numbers",
    PersonalKind.IBAN: "IBANs", PersonalKind.NATIONAL_ID: "national id numbers",
    PersonalKind.IP_ADDRESS: "IP addresses", PersonalKind.STREET_ADDRESS: "street addresses"}

# how much a match is worth when a column's confidence is summed: a checksum proves more than a
# shape, and a capitalised pair of words is only a guess
CHECKED_WEIGHT = 1.0
SHAPED_WEIGHT = 0.9
GUESSED_WEIGHT = 0.8
WEIGHTS = {
    PersonalKind.EMAIL: CHECKED_WEIGHT, PersonalKind.CARD: CHECKED_WEIGHT,
    PersonalKind.IBAN: CHECKED_WEIGHT, PersonalKind.IP_ADDRESS: CHECKED_WEIGHT,
    PersonalKind.NATIONAL_ID: SHAPED_WEIGHT, PersonalKind.PHONE: SHAPED_WEIGHT,
    PersonalKind.STREET_ADDRESS: SHAPED_WEIGHT, PersonalKind.NAME: GUESSED_WEIGHT}


@dataclass(frozen=True)
class Found:
    """One personal value inside a text: its kind and where it is."""

    kind: PersonalKind
    start: int
    end: int
    text: str


# --- checks -----------------------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_issuer_known(digits: str) -> bool:
    """Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay and Maestro prefixes, with
    their lengths: a Luhn-valid number with another prefix is more likely an id."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    return ((digits[0] == "4" and n in (13, 16, 19)) or (51 <= two <= 55 and n == 16)
            or (2221 <= four <= 2720 and n == 16) or (two in (34, 37) and n == 15)
            or ((digits.startswith("6011") or two == 65) and n in (16, 19))
            or (3528 <= four <= 3589 and n in (16, 19)) or (two in (30, 36, 38) and n == 14)
            or (two == 62 and 16 <= n <= 19) or (two in (50, 56, 57, 58, 63, 67) and n >= 16))


# ISO 13616 lengths (the registry's countries that use IBANs most; others are not flagged)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20}


def iban_valid(compact: str) -> bool:
    """The country's length and the mod-97 check of ISO 13616."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ssn_valid(digits: str) -> bool:
    """US SSN allocation rules (it has no check digit): area not 000, 666 or 9xx, group not
    00, serial not 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_PREFIXES = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def nino_valid(compact: str) -> bool:
    """UK National Insurance number rules: letters D, F, I, Q, U, V never appear, O is never
    second, and some prefixes are never issued."""
    first, second = compact[0], compact[1]
    return (first not in "DFIQUV" and second not in "DFIQUVO"
            and compact[:2] not in _NINO_BAD_PREFIXES)


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_valid(compact: str) -> bool:
    """Spanish DNI (8 digits) or NIE (X, Y or Z and 7 digits) and its mod-23 check letter."""
    number = compact[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return _DNI_LETTERS[int(number) % 23] == compact[-1]


_CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23]


def codice_fiscale_valid(code: str) -> bool:
    """Italian codice fiscale: its 16th character checks the first 15."""
    total = 0
    for position, char in enumerate(code[:15]):
        index = int(char) if char.isdigit() else ord(char) - ord("A")
        total += _CF_ODD[index] if position % 2 == 0 else index
    return chr(ord("A") + total % 26) == code[15]


# --- finders ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
                    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_DNI = re.compile(r"\b[XYZ]?\d{7,8}-?[A-Z]\b")
_CODICE_FISCALE = re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# international (+CC …), North American (NXX NXX XXXX) and European national (0…) numbers, with
# separators, or 0 and 9-10 digits (UK, France); other bare runs of digits are phones only in a
# column headed as phones (privacy.py)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}"
    r"|\(?[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4}"
    r"|0\d{1,4}[ .-]\d{2,4}(?:[ .-]?\d{2,4}){1,3}|0\d{9,10})(?![\w])")
_STREET_TYPES = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place"
                 r"|Pl|Way|Terrace|Close|Square|Sq|Parkway|Crescent|Highway|Hwy")
_STREET = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,? (?:[A-Z][a-z]+\.? ){{1,3}}(?:{_STREET_TYPES})\b\.?"
    r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm) \d{1,4}"
    r"[a-z]?\b"
    r"|\b\d{1,4}(?: bis| ter)?,? (?:rue|avenue|boulevard|place|chemin|impasse|allée|calle"
    r"|via|viale|piazza) (?:[a-zA-Zéèàç'-]+ ){0,3}[A-ZÉ][a-zéèàç-]+")
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*")
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "master", "mme", "mlle",
           "herr", "frau", "sr", "sra", "don", "doña"}
_TITLED_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Frau|Mme)\.? [A-Z][a-z]+"
                          r"(?:[ -][A-Z][a-z]+)?\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        if _card_issuer_known(digits) and luhn_valid(digits):
            yield m.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        compact = m.group().replace(" ", "")
        # the pattern runs on into a following word; try the country's exact length
        length = IBAN_LENGTHS.get(compact[:2])
        if length is None or len(compact) < length:
            continue
        if iban_valid(compact[:length]):
            end, taken = m.start(), 0
            while taken < length:  # the span of the first `length` characters, spaces kept
                taken += text[end] != " "
                end += 1
            yield m.start(), end


def _national_ids(text: str) -> Iterator[tuple[int, int]]:
    for pattern, valid in ((_SSN, ssn_valid), (_NINO, nino_valid), (_DNI, dni_valid),
                           (_CODICE_FISCALE, codice_fiscale_valid)):
        for m in pattern.finditer(text):
            compact = m.group().replace(" ", "").replace("-", "")
            if valid(compact if pattern is not _SSN else _digits(compact)):
                yield m.span()


def _ips(text: str) -> Iterator[tuple[int, int]]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield m.span()
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if sum(c.isalnum() for c in candidate) < 4:  # "::" or "1::2" alone: a time, a ratio
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield m.span()


def _phone_digits_plausible(digits: str) -> bool:
    return 8 <= len(digits) <= 15 and len(set(digits)) > 2  # 000-000-0000 is a placeholder


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for m in _PHONE.finditer(text):
        if _phone_digits_plausible(_digits(m.group())):
            yield m.span()


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _streets(text: str) -> Iterator[tuple[int, int]]:
    for m in _STREET.finditer(text):
        yield m.span()


def _names_in_text(text: str) -> Iterator[tuple[int, int]]:
    """In running text a name is a title and a capitalised word, or a known given name and a
    known surname: a capitalised pair alone is too often a place or a product."""
    for m in _TITLED_NAME.finditer(text):
        yield m.span()
    for first, last in itertools.pairwise(_CAPITALISED.finditer(text)):
        if (text[first.end():last.start()] == " " and first.group().lower() in GIVEN_NAMES
                and last.group().lower() in SURNAMES):
            yield first.start(), last.end()


_FINDERS: dict[PersonalKind, Callable[[str], Iterator[tuple[int, int]]]] = {
    PersonalKind.EMAIL: _emails, PersonalKind.IBAN: _ibans, PersonalKind.CARD: _cards,
    PersonalKind.NATIONAL_ID: _national_ids, PersonalKind.IP_ADDRESS: _ips,
    PersonalKind.PHONE: _phones, PersonalKind.STREET_ADDRESS: _streets,
    PersonalKind.NAME: _names_in_text}


def find_personal(text: str) -> list[Found]:
    """Every personal value in ``text``, left to right; where two overlap, the first kind in
    ``_FINDERS`` order (the better-checked one) keeps the span."""
    text = text[:MAX_CHARS_SCANNED]
    if not any(c.isdigit() or c == "@" or c.isupper() for c in text):
        return []  # every kind has a digit, an @ or a capital letter
    # an IBAN that fails its check still is no phone or card: its digit groups look like both
    blocked = [m.span() for m in _IBAN.finditer(text)]
    taken: list[Found] = []
    for kind, finder in _FINDERS.items():
        for start, end in finder(text):
            if all(end <= f.start or start >= f.end for f in taken) and (
                    kind is PersonalKind.IBAN or all(end <= a or start >= b for a, b in blocked)):
                taken.append(Found(kind, start, end, text[start:end]))
    return sorted(taken, key=lambda f: f.start)


def looks_like_a_name(value: str, *, name_column: bool = False) -> bool:
    """Two to four capitalised words (titles aside; "Surname, Given" too) of which one is a
    known given name, or, in a column headed as names, a known given name or surname."""
    words = [w for w in _WORD.findall(value) if w.lower().rstrip(".") not in _TITLES]
    if not 2 <= len(words) <= 4 or any(c.isdigit() for c in value):
        return False
    if not all(w[0].isupper() and not w.isupper() for w in words):
        return False
    lowered = [w.lower() for w in words]
    if any(w in GIVEN_NAMES for w in lowered):
        return True
    return name_column and any(w in SURNAMES for w in lowered)


# --- masking ------------------------------------------------------------------------------------

def _star_all_but(text: str, keep_last: int) -> str:
    """Alphanumerics become ``*`` except the last ``keep_last`` of them; separators stay."""
    seen, out = 0, []
    total = sum(c.isalnum() for c in text)
    for char in text:
        if char.isalnum():
            seen += 1
            out.append(char if seen > total - keep_last else "*")
        else:
            out.append(char)
    return "".join(out)


def _initials(text: str) -> str:
    return " ".join((w[0] + "*" * (len(w) - 1)) if w[0].isalpha() else "*" * len(w)
                    for w in text.split())


def mask_value(kind: PersonalKind, value: str) -> str:
    """A shape of ``value`` a report may show: enough to recognise the kind, never the value
    (cards and IBANs keep their last four, as statements print them)."""
    value = value.strip()
    if kind is PersonalKind.EMAIL and "@" in value:
        local, domain = value.rsplit("@", 1)
        labels = domain.split(".")
        return f"{local[:1]}***@{labels[0][:1]}***.{labels[-1]}"
    if kind is PersonalKind.CARD:
        return "**** **** **** " + _digits(value)[-4:]
    if kind is PersonalKind.IBAN:
        compact = value.replace(" ", "")
        return f"{compact[:2]}** **** **** {compact[-4:]}"
    if kind is PersonalKind.IP_ADDRESS:
        return value.split(".")[0] + ".*.*.*" if "." in value else \
            value.split(":")[0] + ":****:…"
    if kind in (PersonalKind.PHONE, PersonalKind.NATIONAL_ID):
        return _star_all_but(value, 2)
    return _initials(value)  # names and street addresses


def mask_text(text: str) -> str:
    """``text`` with each personal value replaced by its kind's placeholder; the other words
    stay ("write to <EMAIL> today")."""
    found = find_personal(text)
    if not found:
        return text
    pieces, at = [], 0
    for f in found:
        pieces += [text[at:f.start], f.kind.placeholder]
        at = f.end
    return "".join([*pieces, text[at:]])

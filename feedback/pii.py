"""PII scrubbing for prompts and answers before preference pairs leave the store for training:
emails, phone numbers, payment cards, IBANs and IP addresses become placeholders."""

import ipaddress
import re
from collections.abc import Callable, Collection
from typing import NamedTuple

PLACEHOLDERS = {
    "email": "[email]",
    "phone": "[phone]",
    "card": "[card]",
    "iban": "[iban]",
    "ip": "[ip]",
}

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_IBAN = re.compile(
    r"(?<![^\W_])[A-Za-z]{2}\d{2}"
    r"(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)"
    r"(?![^\W_])"
)
_CARD = re.compile(
    r"(?<![\w+.,-])(?<!\d[ -])"
    r"(?:\d{13,19}|\d{4,6}(?:[ -]\d{4,6}){1,4}(?:[ -]\d{1,6})?)"
    r"(?!\w|[.,]\d)"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:]|\.\d)"
)
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
# A phone number is a whole run of digit groups: it may not start or end next to another
# digit group, a letter, a decimal point or a time's colon (so no part of "9:00" or "4.90").
_PHONE_GROUPS = r"\d+(?:(?:[ .-]?\(\d{1,4}\)[ .-]?|[ .-])\d+)*(?![\w%]|[ .,:/-]\d)"
_INTERNATIONAL = re.compile(rf"(?<![\w+])\+{_PHONE_GROUPS}")
_NATIONAL = re.compile(rf"(?<![\w.,/+-])(?<!\d[ :])(?:\(\d{{1,5}}\)[ -]?)?{_PHONE_GROUPS}")
_DATE = re.compile(r"\d{1,2}([.-])\d{1,2}\1\d{4}|\d{4}([.-])\d{2}\2\d{2}")
_KEEP_IGNORED = re.compile(r"[\s.()-]")
_LAST_GROUP = re.compile(r"[ -][^ -]*$")
# Found spans are blanked with a character no pattern accepts, so a later rule neither matches
# inside them nor counts them as part of a neighbouring number: it sees what it will see next
# to the placeholder after scrubbing, which keeps scrubbing idempotent.
_BLANK = "\0"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _is_card(text: str) -> bool:
    digits = _digits(text)
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _is_ip(text: str) -> bool:
    if not any(char.isalnum() for char in text):  # "::" alone is a separator in prose
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_international_phone(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15


def _is_national_phone(text: str) -> bool:
    """A national number has separators, and is not a date, a range, an amount or a version."""
    groups = re.findall(r"\d+", text)
    separators = re.split(r"\d+", text)[1:-1]
    if not 8 <= len(_digits(text)) <= 15 or len(groups) < 2 or _DATE.fullmatch(text):
        return False
    if any(len(group) == 1 for group in groups[1:]):  # "10.0.19045.2965", "978-3-16-148410-0"
        return False
    if "." in separators and set(separators) != {"."}:  # "10.00-18.00", "27.11.2026 10.30"
        return False
    if len(separators) == 1 and separators[0] == "-" and len(groups[0]) == len(groups[1]):
        return int(groups[0]) >= int(groups[1])  # "2019-2026", "0900-1800" are ranges
    thousands = (
        len(set(separators)) == 1
        and separators[0] in (" ", ".")
        and len(groups[0]) <= 3
        and not groups[0].startswith("0")
        and all(len(group) == 3 for group in groups[1:])
    )
    return not thousands  # "12 345 678 NOK"


class _Rule(NamedTuple):
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    # The grouped IBAN and card shapes can swallow the next word or number ("... 7034 and"),
    # so a candidate that fails its check is retried without its trailing groups.
    trim: bool = False


# In order of precedence: an email hides the digits of its local part, IBANs and cards hide
# theirs from the phone rule, and IPv6 goes first so IPv4 does not match its IPv4 tail.
_RULES = (
    _Rule("email", _EMAIL, lambda _: True),
    _Rule("iban", _IBAN, _is_iban, trim=True),
    _Rule("card", _CARD, _is_card, trim=True),
    _Rule("ip", _IPV6, _is_ip),
    _Rule("ip", _IPV4, _is_ip),
    _Rule("phone", _INTERNATIONAL, _is_international_phone),
    _Rule("phone", _NATIONAL, _is_national_phone),
)


class _Span(NamedTuple):
    start: int
    end: int
    kind: str


def _accepted(rule: _Rule, candidate: str) -> str | None:
    while not rule.valid(candidate):
        shorter = _LAST_GROUP.sub("", candidate) if rule.trim else candidate
        if shorter == candidate:
            return None
        candidate = shorter
    return candidate


def _locate(text: str) -> list[_Span]:
    spans = []
    masked = text
    for rule in _RULES:
        position = 0
        while match := rule.pattern.search(masked, position):
            accepted = _accepted(rule, match.group())
            if accepted is None:
                position = match.start() + 1
                continue
            end = match.start() + len(accepted)
            spans.append(_Span(match.start(), end, rule.kind))
            masked = masked[: match.start()] + _BLANK * len(accepted) + masked[end:]
            position = end
    return sorted(spans)


def _normalized(text: str) -> str:
    return _KEEP_IGNORED.sub("", text).casefold()


def find_pii(text: str) -> list[tuple[str, str]]:
    """Every piece of PII in `text` as (kind, matched text), in order of appearance."""
    return [(span.kind, text[span.start : span.end]) for span in _locate(text)]


def scrub_pii(text: str, *, keep: Collection[str] = ()) -> str:
    """Replace emails, phone numbers, payment card numbers, IBANs and IP addresses with
    placeholders.

    Strings in `keep` (a business's own public contact details, e.g. its support phone number
    and email) are left as they are; they match ignoring spaces, dashes, dots, parentheses and case.
    """
    kept = {_normalized(entry) for entry in keep}
    pieces = []
    position = 0
    for span in _locate(text):
        if _normalized(text[span.start : span.end]) in kept:
            continue
        pieces += [text[position : span.start], PLACEHOLDERS[span.kind]]
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)

"""Personal data redaction (module M5): find e-mail addresses, phone numbers, IP addresses and card numbers.

A crawl is full of personal data that a model can memorise and repeat. Before training, each match is
replaced by a typed placeholder, so the model still learns that "write to <EMAIL>" is a sentence:

    "mail jo@example.com or call 555-123-4567"  ->  "mail <EMAIL> or call <PHONE>"

Every detector is a regular expression from the standard library's `re`, plus a check that a regex
cannot express: the card number's Luhn checksum. `score_spans` measures them against planted spans
(precision, recall, and the list of what they missed), because that is where regexes show their limits.

Design choices, and the simplifications made for teaching:
- Five kinds: EMAIL, PHONE, IPV4, IPV6, CARD. Names, postal addresses, IBANs, national ID numbers and
  anything written out in words ("jo at example dot com") are not covered: they need a dictionary, a
  model or both (Microsoft's Presidio combines regexes like these with named-entity recognition).
- Boundaries are lookarounds: a match may not start or end inside a longer run of digits or word
  characters, so "1.2.3.4.5" is no IPv4 address and a 20-digit number holds no card number.
- EMAIL: a local part of letters, digits and . _ % + - , an "@", dot-separated domain labels and a
  top-level domain of two or more letters. Unicode letters are allowed. Not covered: quoted local parts
  ("john doe"@example.com), IP-literal domains (jo@[192.0.2.1]).
- PHONE: three shapes, each with an optional extension ("x123", "ext. 123"):
    north american   (555) 123-4567, 555-123-4567, 555.123.4567, +1-555-123-4567, 001-555-123-4567
    international    +44 20 7946 0958, +44(0)20 7946 0958, +4428 9018 0864, 0049 30 123456
    national         (0121) 496 0711, 0306 9990245, 02 72 08 29 65, 0627285232: a leading trunk 0,
                     9 to 11 digits (British numbers have 10 or 11 with the 0, French ones 10; German ones
                     vary, and the longest are missed; a 12-digit "0604-2394-9183" is more likely a Maestro
                     card or a padded id) and one kind of separator, which keeps out dates (05.03.2021)
  A bare run of ten digits without "+" or a leading 0 (3165097535) is not taken: it could as well be
  an order number or a timestamp. That is a deliberate miss, and `score_spans` shows it.
- IPV4: four octets 0-255 without leading zeros. Four-part version numbers ("2.0.1.3") are valid
  addresses too and are redacted; "v2.0.1.3" and five parts are not.
- IPV6: eight groups of 1-4 hex digits, or fewer around one "::" (2001:db8::1, ::1, fe80::). It must
  hold at least one decimal digit, which keeps out "::" alone (Haskell's type annotations, reST) and
  words such as "cafe::face", at the price of all-letter addresses. Not covered: an IPv4 tail
  (::ffff:192.0.2.1, whose IPv4 part is still found as IPV4), zone ids (in fe80::1%eth0 the "%eth0"
  is left), addresses glued to a word or a colon ("ip:2001:db8::1").
- CARD: a whole run of 13 to 19 digits, first digit 1-9, single spaces or dashes allowed between them,
  kept only when the Luhn checksum holds. The whole run or nothing: no card is cut out of a longer
  number (a Luhn-failing "4906-4300-9279-2395-461" has a valid 16-digit prefix), so a card glued to
  another number ("12 4111111111111111") is missed. 13-digit ISBNs (978/979...) are skipped. About one
  random number in ten passes Luhn, so other long codes (EAN-13 barcodes) are sometimes false alarms;
  12-digit Maestro cards are missed: counting 12-digit numbers would let in one 12-digit id in ten.
- Overlaps: the detectors' matches are taken longest first, then leftmost, then in the order of
  `KINDS` (EMAIL, CARD, IPV6, IPV4, PHONE: the strongest evidence first), and a match is dropped when
  it overlaps one already taken. "+49(0) 048107770" is one PHONE, not a national number inside it.
- Placeholders: one `<IP_ADDRESS>` for both IP versions, as the PII pass of AI2's Dolma corpus does
  with its `|||IP_ADDRESS|||`; the spans keep the kind.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Iterable, NamedTuple

KINDS = ("EMAIL", "CARD", "IPV6", "IPV4", "PHONE")  # also the order in which overlaps are settled
PLACEHOLDERS = {"EMAIL": "<EMAIL>", "PHONE": "<PHONE>", "IPV4": "<IP_ADDRESS>", "IPV6": "<IP_ADDRESS>",
                "CARD": "<CARD>"}
CARD_DIGITS = (13, 19)  # the shortest and longest card numbers taken (ISO/IEC 7812 allows up to 19)


class Span(NamedTuple):
    """A piece of personal data: text[start:end] is of this kind."""

    start: int
    end: int
    kind: str  # one of KINDS


def as_span(span) -> Span:
    """A Span from a (start, end, kind) tuple or from anything with those attributes (the crawl's labels)."""
    return Span(*span) if isinstance(span, tuple) else Span(span.start, span.end, span.kind)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number (spaces and dashes allowed): True when it holds.

    From the right, every second digit is doubled (and 9 subtracted when that gives two digits);
    the number is valid when the sum of all digits is a multiple of 10. It catches every change of
    a single digit and most swaps of two neighbours. Needs at least two digits.

    >>> luhn_valid("4111 1111 1111 1111"), luhn_valid("4111 1111 1111 1112"), luhn_valid("79927398713")
    (True, False, True)
    """
    number = re.sub(r"[ -]", "", digits)
    if not re.fullmatch(r"[0-9]{2,}", number):
        return False
    total = 0
    for i, char in enumerate(reversed(number)):  # i = 0 is the check digit
        d = int(char)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9  # the sum of the two digits: 2 x 7 = 14 -> 1 + 4 = 5 = 14 - 9
        total += d
    return total % 10 == 0


# ----------------------------------------------------------------------------
# the detectors: text -> list of Spans of one kind

EMAIL_RE = re.compile(r"""
    (?<![\w.%+-])                    # not the middle of a longer local part
    [\w.%+-]+                        # local part
    @
    (?:[^\W_](?:[\w-]*[^\W_])?\.)+   # domain labels (letters or digits, hyphens inside), each with its dot
    [^\W\d_]{2,}                     # top-level domain: two or more letters
    (?![\w-])
""", re.VERBOSE)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0-255, no leading zero
IPV4_RE = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\w)")


def _ipv6_forms() -> str:
    """The alternatives of an IPv6 address: eight groups, or n groups, "::", at most 7 - n groups."""
    h = r"[0-9A-Fa-f]{1,4}"
    forms = [rf"(?:{h}:){{7}}{h}"]
    for left in range(8):  # groups written before the "::"
        head = rf"(?:{h}:){{{left - 1}}}{h}" if left else ""
        tail = rf"(?:{h}(?::{h}){{0,{6 - left}}})?" if left < 7 else ""
        forms.append(f"{head}::{tail}")
    return "|".join(forms)


IPV6_RE = re.compile(
    r"(?<![\w:])"               # not glued to a word or to more groups
    r"(?=[0-9A-Fa-f:]*[0-9])"   # at least one decimal digit: not "::" alone, not "cafe::face"
    rf"(?:{_ipv6_forms()})"
    r"(?!\w|:[\w:]|\.[0-9])"    # the whole address: no more groups, no IPv4 tail
)

_SEP = r"[ .\-]"  # one separator between the digits of a phone number
_PHONE_START = rf"(?<![\w+])(?<![0-9]{_SEP})"   # not inside a longer number
_PHONE_END = rf"(?:[ ]?(?:x|ext\.?|extension)[ ]?[0-9]{{1,6}})?(?![0-9]|{_SEP}[0-9]|[:/][0-9])"
PHONE_FORMATS = {
    # optional +1 / 1 / 001, then (555) 123-4567 or 555-123-4567 (dots and spaces too)
    "north american": rf"(?:(?:\+|00)?1{_SEP}?)?"
                      rf"(?:\([0-9]{{3}}\){_SEP}?|[0-9]{{3}}{_SEP})[0-9]{{3}}{_SEP}[0-9]{{4}}",
    # + or 00, a country code, an optional trunk "(0)", then 6-12 digits with single separators
    "international": rf"(?:\+|00)[1-9][0-9]{{0,2}}(?:{_SEP}?\(0\))?(?:{_SEP}?[0-9]){{6,12}}",
    # a trunk 0 and an area code, maybe in brackets, then the subscriber's digits
    "national": rf"(?:\(0[0-9]{{1,4}}\)|0[0-9]{{1,4}})(?:{_SEP}?[0-9]){{4,10}}",
}
PHONE_RES = {name: re.compile(_PHONE_START + pattern + _PHONE_END) for name, pattern in PHONE_FORMATS.items()}

CARD_RE = re.compile(  # a whole run of digits with single spaces or dashes between them, nothing glued on
    r"(?<![\w.,+])(?<![0-9][ -])"                                         # not inside a longer number
    rf"(?:[0-9][ -]?){{{CARD_DIGITS[0] - 1},{CARD_DIGITS[1] - 1}}}[0-9]"  # 13-19 digits
    r"(?!\w|[ -][0-9]|[.,][0-9])")
_ISBN13_RE = re.compile(r"97[89][0-9]{10}")  # a book's number (EAN "Bookland"), common in citations


def find_emails(text: str) -> list[Span]:
    """E-mail addresses (see EMAIL_RE).

    >>> find_emails("write to jo.doe+news@mail.example.co.uk.")
    [Span(start=9, end=39, kind='EMAIL')]
    """
    return [Span(m.start(), m.end(), "EMAIL") for m in EMAIL_RE.finditer(text)]


def find_ipv4(text: str) -> list[Span]:
    """IPv4 addresses, four octets of 0-255 (see IPV4_RE).

    >>> [text for text in ("10.0.0.1", "1.2.3.4.5", "999.1.1.1", "v1.2.3.4") if find_ipv4(text)]
    ['10.0.0.1']
    """
    return [Span(m.start(), m.end(), "IPV4") for m in IPV4_RE.finditer(text)]


def find_ipv6(text: str) -> list[Span]:
    """IPv6 addresses, full or with one "::" (see IPV6_RE).

    >>> [text for text in ("2001:db8::8a2e:370:7334", "::1", "12:30:45", "std::vector") if find_ipv6(text)]
    ['2001:db8::8a2e:370:7334', '::1']
    """
    return [Span(m.start(), m.end(), "IPV6") for m in IPV6_RE.finditer(text)]


def _national_number_plausible(number: str) -> bool:
    """9 to 11 digits and a single kind of separator: "0306 9990245" yes, "05.03.2021 12" no."""
    number = re.sub(r"[ ]?(?:x|ext\.?|extension)[ ]?[0-9]+$", "", number)  # the extension does not count
    separators = set(re.sub(r"^\(0[0-9]+\)[ ]?", "", number)) - set("0123456789")  # after a bracketed area code
    return 9 <= sum(c.isdigit() for c in number) <= 11 and len(separators) <= 1


def find_phones(text: str) -> list[Span]:
    """Phone numbers in any of the shapes of `PHONE_FORMATS`; overlapping matches are left for `find_pii`.

    >>> text = "call +1 (555) 123-4567 or 0121 496 0711 x22, not 05.03.2021"
    >>> [text[s.start:s.end] for s in sorted(set(find_phones(text)))]
    ['+1 (555) 123-4567', '0121 496 0711 x22']
    """
    spans = []
    for name, pattern in PHONE_RES.items():
        for m in pattern.finditer(text):
            if name != "national" or _national_number_plausible(m.group()):
                spans.append(Span(m.start(), m.end(), "PHONE"))
    return spans


def find_cards(text: str) -> list[Span]:
    """Card numbers: a whole run of digit groups with 13-19 digits, first digit 1-9, Luhn-valid.

    >>> text = "card 4111 1111 1111 1111, not 4111 1111 1111 1112 nor 4111-1111-1111-1111-1"
    >>> [text[s.start:s.end] for s in find_cards(text)]
    ['4111 1111 1111 1111']
    """
    spans = []
    for m in CARD_RE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if digits[0] != "0" and not _ISBN13_RE.fullmatch(digits) and luhn_valid(digits):
            spans.append(Span(m.start(), m.end(), "CARD"))
    return spans


DETECTORS: dict[str, Callable[[str], list[Span]]] = {
    "EMAIL": find_emails, "CARD": find_cards, "IPV6": find_ipv6, "IPV4": find_ipv4, "PHONE": find_phones,
}


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep non-overlapping spans: longest first, then leftmost, then by kind in the order of KINDS.

    >>> resolve_overlaps([Span(0, 5, "PHONE"), Span(3, 9, "CARD"), Span(3, 9, "PHONE"), Span(9, 12, "IPV4")])
    [Span(start=3, end=9, kind='CARD'), Span(start=9, end=12, kind='IPV4')]
    """
    kept: list[Span] = []  # sorted by position and never overlapping, so only the neighbours can clash
    for span in sorted(set(spans), key=lambda s: (s.start - s.end, s.start, KINDS.index(s.kind))):
        i = bisect.bisect_left(kept, span)
        if (i == 0 or kept[i - 1].end <= span.start) and (i == len(kept) or span.end <= kept[i].start):
            kept.insert(i, span)
    return kept


def find_pii(text: str) -> list[Span]:
    """Every detector's matches, overlaps resolved (see `resolve_overlaps`), sorted by position.

    >>> text = "Jo <jo@example.com>, 192.168.0.1, +44 20 7946 0958"
    >>> [(text[s.start:s.end], s.kind) for s in find_pii(text)]
    [('jo@example.com', 'EMAIL'), ('192.168.0.1', 'IPV4'), ('+44 20 7946 0958', 'PHONE')]
    """
    return resolve_overlaps(span for detect in DETECTORS.values() for span in detect(text))


def redact(text: str, spans: Iterable[Span] | None = None) -> tuple[str, list[Span]]:
    """Replace each span (by default those `find_pii` finds) by its kind's placeholder -> (new text, spans).

    Everything outside the spans is kept exactly as it was. Spans may come from elsewhere (the crawl's
    labels); a kind without an entry in PLACEHOLDERS becomes "<KIND>".

    >>> redact("mail jo@example.com or call 555-123-4567")[0]
    'mail <EMAIL> or call <PHONE>'
    """
    spans = find_pii(text) if spans is None else sorted(map(as_span, spans))
    pieces, at = [], 0
    for span in spans:
        if span.start < at:
            raise ValueError(f"spans overlap at {span}; pass them through resolve_overlaps first")
        pieces += [text[at:span.start], PLACEHOLDERS.get(span.kind, f"<{span.kind}>")]
        at = span.end
    pieces.append(text[at:])
    return "".join(pieces), spans


# ----------------------------------------------------------------------------
# scoring against planted spans

def _overlaps_any(spans: list[Span], others: list[Span]) -> list[bool]:
    """For each span, does it overlap at least one of `others`? (Sorted search, not all pairs.)"""
    others = sorted(others)
    starts = [o.start for o in others]
    reach, furthest = [], -1
    for o in others:  # reach[i]: the furthest end among others[:i + 1]
        furthest = max(furthest, o.end)
        reach.append(furthest)
    result = []
    for s in spans:
        i = bisect.bisect_left(starts, s.end)  # others[:i] start before s ends
        result.append(i > 0 and reach[i - 1] > s.start)
    return result


def score_spans(found: Iterable[Span], truth: Iterable[Span], text: str) -> dict:
    """Precision and recall of `found` against `truth` (spans of `text`), per kind and overall.

    A found span is correct when it overlaps a true span of the same kind; a true span is recovered
    when a found span of its kind overlaps it. Overlap, not exact match, because a redaction that
    covers the number but not its "+1" or its extension has still done most of its job;
    `exact` is the share of true spans found with exactly their boundaries, to see how often that
    happens. A found span of the wrong kind is both a false alarm and a miss.

    Returns {"per_kind": {kind: counts}, "overall": counts, "misses": [(span, its text)],
    "false_alarms": [(span, its text)]}, where counts holds found, true, correct (found spans that
    overlap a true one), recovered (true spans overlapped), precision, recall and exact.
    Precision is nan when nothing was found, recall and exact nan when there was nothing to find.
    Spans of other kinds (the crawl's NAME) are not scored.

    >>> text = "a@b.org 10.0.0.1 555-123-4567"
    >>> truth = [Span(0, 7, "EMAIL"), Span(8, 16, "IPV4"), Span(17, 29, "PHONE")]
    >>> scores = score_spans([Span(0, 7, "EMAIL"), Span(17, 24, "PHONE"), Span(25, 29, "CARD")], truth, text)
    >>> scores["overall"]["precision"], scores["overall"]["recall"], scores["misses"]
    (0.6666666666666666, 0.6666666666666666, [(Span(start=8, end=16, kind='IPV4'), '10.0.0.1')])
    """
    found, truth = sorted(set(map(as_span, found))), sorted(set(map(as_span, truth)))
    nan = float("nan")
    per_kind, misses, false_alarms = {}, [], []
    totals = dict(found=0, true=0, correct=0, recovered=0, exact=0)
    for kind in KINDS:
        f = [s for s in found if s.kind == kind]
        t = [s for s in truth if s.kind == kind]
        correct, recovered = _overlaps_any(f, t), _overlaps_any(t, f)
        exact = len(set(f) & set(t))
        false_alarms += [(s, text[s.start:s.end]) for s, ok in zip(f, correct) if not ok]
        misses += [(s, text[s.start:s.end]) for s, ok in zip(t, recovered) if not ok]
        counts = dict(found=len(f), true=len(t), correct=sum(correct), recovered=sum(recovered), exact=exact)
        for key in totals:
            totals[key] += counts[key]
        per_kind[kind] = counts
    for counts in (*per_kind.values(), totals):
        counts["precision"] = counts["correct"] / counts["found"] if counts["found"] else nan
        counts["recall"] = counts["recovered"] / counts["true"] if counts["true"] else nan
        counts["exact"] = counts["exact"] / counts["true"] if counts["true"] else nan
    return {"per_kind": per_kind, "overall": totals, "misses": sorted(misses), "false_alarms": sorted(false_alarms)}

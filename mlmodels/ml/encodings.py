"""Which text encoding an uploaded CSV is in: the whole-file check that it is UTF-8
(``not_utf8_block``) and, when it is not, the guess among the single-byte code pages
people's spreadsheets still write (``guess_single_byte_encoding``, which scores how
plausible each reading is as text), plus the names people know those encodings by
(``encoding_label``). Used by ``csvio.sniff_format``; no Django here.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from collections import Counter

# The single-byte encodings a file that is not UTF-8 may be in, most common first: when
# two read a file equally well, the earlier one wins. latin-1 is last because it decodes
# any byte, 0x80-0x9F as invisible C1 controls that score badly: it is what is left when
# the Windows code pages cannot decode the file (each leaves a few bytes undefined).
SINGLE_BYTE_ENCODINGS = ("cp1252", "cp1250", "cp1251", "latin-1")

_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "cp1252": "Windows-1252 (Western European)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "iso8859-1": "Latin-1 (ISO-8859-1)",
}

# Non-ASCII characters scored per candidate: a few thousand settle any real file, and
# scoring is a Python loop.
_MAX_EVIDENCE = 5000

# Letters beyond ASCII (lower case) of the languages each code page is used for. A
# reading whose accented letters all belong to one language is more plausible than one
# that needs several: Polish read as cp1252 gives ñ (Spanish), æ (Danish) and ê
# (French) where cp1250 gives ń, ć and ę, all Polish.
_ALPHABETS: dict[str, tuple[str, ...]] = {
    "cp1252": (
        "àâæçéèêëîïôœùûüÿ",  # French
        "äöüß",  # German
        "áéíñóúü",  # Spanish
        "áâãàçéêíóôõú",  # Portuguese
        "àèéìíîòóù",  # Italian
        "áéèëïóöü",  # Dutch
        "åæøéó",  # Danish, Norwegian
        "åäöéšž",  # Swedish, Finnish
        "àçèéíïòóúü",  # Catalan
        "áðéíóúýþæö",  # Icelandic
    ),
    "cp1250": (
        "ąćęłńóśźż",  # Polish
        "áčďéěíňóřšťúůýž",  # Czech
        "áäčďéíĺľňóôŕšťúýž",  # Slovak
        "áéíóöőúüű",  # Hungarian
        "čćđšž",  # Croatian, Bosnian, Slovenian
        "ăâîşţ",  # Romanian (cp1250 has the cedilla forms)
        "äöüß",  # German
    ),
    "cp1251": (
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",  # Russian
        "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",  # Ukrainian
        "абвгдеёжзійклмнопрстуўфхцчшыьэюя",  # Belarusian
        "абвгдежзийклмнопрстуфхцчшщъьюя",  # Bulgarian
        "абвгдђежзијклљмнњопрстћуфхцчџш",  # Serbian
        "абвгдѓежзѕијклљмнњопрстќуфхцчџш",  # Macedonian
    ),
}
_ALPHABETS["latin-1"] = _ALPHABETS["cp1252"]
# Letters their languages write only before certain letters: Spanish ñ before a vowel,
# Portuguese õ in "õe"/"õi". The same bytes are Polish ń ("Gdańsk", "Poznań") and
# Hungarian ő ("Győr", "idő") in cp1250, which stand anywhere.
_ONLY_BEFORE = {"ñ": "aeiouáéíóú", "õ": "ei"}

# Punctuation and signs real text uses: quotes, dashes, currency, units, ordinals.
_TYPOGRAPHY = frozenset("“”‘’„‚«»‹›–—…•·°§©®™±×÷€£¥¢‰¹²³¼½¾ªºµ¿¡№\u00a0\u00ad")
# Of those, the ones that may stand between two letters: "don’t", "Paris–Rome", "l·l".
_INSIDE_WORDS = frozenset("’‘–—·\u00ad")
_CURRENCY = frozenset("€£¥¢")
_HIGH_CHARACTER = re.compile(r"[^\x00-\x7f]")
# Non-ASCII characters other than the surrogates that stand for undecodable bytes.
_UTF8_CHARACTER = re.compile(r"[^\x00-\x7f\udc80-\udcff]")


def encoding_label(codec: str) -> str:
    """The name a person knows an encoding by ("Windows-1250 (Central European)" for
    ``cp1250``); a codec without such a name is returned as given."""
    try:
        canonical = codecs.lookup(codec).name
    except LookupError:
        return codec
    return _ENCODING_LABELS.get(canonical, codec)


def _undefined_bytes(codec: str) -> bytes:
    undefined = bytearray()
    for byte in range(0x80, 0x100):
        try:
            bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            undefined.append(byte)
    return bytes(undefined)


_UNDEFINED_BYTES = {codec: _undefined_bytes(codec) for codec in SINGLE_BYTE_ENCODINGS}


def _encodings_that_decode(path: str | os.PathLike[str]) -> list[str]:
    """The single-byte encodings that can decode every byte of the file. The whole file
    is checked (a byte search, fast) because a byte that one code page leaves undefined
    (0x81, 0x8D, 0x8F, 0x90, 0x98, 0x9D) deep in a file would otherwise make the Arrow
    reader fail halfway through."""
    candidates = list(SINGLE_BYTE_ENCODINGS)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            candidates = [
                codec for codec in candidates if not any(byte in block for byte in _UNDEFINED_BYTES[codec])
            ]
    return candidates


def _without_utf8_characters(block: bytes) -> bytes:
    """The block with every valid multi-byte UTF-8 character replaced by a space. In a
    file that mixes UTF-8 with a single-byte encoding, those characters are mojibake
    under every candidate ("Ã¼" for "ü") and would only blur the vote."""
    text = block.decode("utf-8", errors="surrogateescape")
    return _UTF8_CHARACTER.sub(" ", text).encode("utf-8", errors="surrogateescape")


def _script(char: str) -> str | None:
    """``latin`` or ``cyrillic`` for a letter of those scripts, else None (signs such as
    ª, º and µ count as letters to Python but not here)."""
    if not char.isalpha():
        return None
    if char.isascii() or "\u00c0" <= char <= "\u024f":
        return "latin"
    if "\u0400" <= char <= "\u04ff":
        return "cyrillic"
    return None


def _is_accented_latin(char: str) -> bool:
    return not char.isascii() and _script(char) == "latin"


def _reading_score(text: str, codec: str) -> int:
    """How plausible the non-ASCII characters of ``text`` (the sample decoded with
    ``codec``) are as real text. Signs score where text uses them; letters score when
    they belong to the one language that explains most of them (see ``_ALPHABETS``).
    Signs inside words, letters of another script inside a word, letters stuck to
    numbers, capitals after small letters and C1 controls cost."""
    score = 0
    letters: Counter[str] = Counter()
    for count, match in enumerate(_HIGH_CHARACTER.finditer(text)):
        if count == _MAX_EVIDENCE:
            break
        position = match.start()
        char = match.group()
        before = text[position - 1] if position else " "
        after = text[position + 1] if position + 1 < len(text) else " "
        script = _script(char)
        if script is None:
            if unicodedata.category(char) == "Cc":
                score -= 5  # latin-1's reading of 0x80-0x9F: no text has them
            elif char not in _TYPOGRAPHY:
                score -= 2  # spacing accents, dingbats: what bytes of another page become
            elif _script(before) and _script(after) and char not in _INSIDE_WORDS:
                score -= 3  # "Wroc³aw", "mo¿e": a letter of another page read as a sign
            elif char in _CURRENCY and (_script(before) or _script(after)):
                score -= 2  # "£ódŸ" (Łódź read as cp1252): a price sign against a letter
            else:
                score += 1
            continue
        lower = char.lower()
        allowed_next = _ONLY_BEFORE.get(lower)
        if allowed_next is None or after.lower() in allowed_next:
            letters[lower] += 1
        if any(other not in (None, script) for other in (_script(before), _script(after))):
            score -= 4  # one word in two scripts: "Mьller" is Western text read as cp1251
        if char.isupper() and before.islower():
            score -= 3  # "ŁódŸ": a capital after a small letter
        if script == "latin" and _is_accented_latin(before) and _is_accented_latin(after):
            score -= 2  # three accented letters in a row: "Ìîñêâà" is Russian read as Latin
        if before.isdigit() or after.isdigit():
            score -= 1  # "Ђ5" is "€5" read as cp1251
    score += max(
        sum(count for letter, count in letters.items() if letter in alphabet)
        for alphabet in _ALPHABETS[codec]
    )
    return score


def guess_single_byte_encoding(path: str | os.PathLike[str], block: bytes) -> str:
    """The single-byte encoding that reads the file best, judged on ``block`` (where it
    stops being UTF-8) among those that can decode the whole file. Every high byte is a
    letter or a sign in each of these code pages, so the choice rests on which reading
    looks like text (see ``_reading_score``); ties go to the more common encoding."""
    readable = _encodings_that_decode(path)
    evidence = _without_utf8_characters(block)

    def rank(codec: str) -> tuple[int, int]:
        text = evidence.decode(codec)
        return _reading_score(text, codec), -SINGLE_BYTE_ENCODINGS.index(codec)

    return max(readable, key=rank)


def not_utf8_block(path: str | os.PathLike[str], sample: bytes) -> bytes | None:
    """None if the whole file is valid UTF-8, else the block where it stops being so
    (the bytes to guess the real encoding from). The whole file is checked, at about a
    second per GB, because one Latin-1 byte deep in a file would otherwise make the
    Arrow reader fail halfway through. The incremental decoder copes with a block that
    ends inside a multi-byte character."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    block = sample
    try:
        decoder.decode(sample, final=False)
        with open(path, "rb") as handle:
            handle.seek(len(sample))
            while block := handle.read(1 << 20):
                decoder.decode(block, final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return block or sample
    return None

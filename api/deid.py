"""De-identification of free text before a copy of it reaches a log.

``deidentify`` replaces what the HIPAA Safe Harbor method (45 CFR 164.514(b)(2)) lists as identifiers with
a bracketed placeholder naming the class: names, places smaller than a state and ZIP codes, dates and ages
over 89, phone and fax numbers, emails, SSNs, medical record, health plan, account, certificate and licence
numbers, vehicle and device identifiers, URLs, IP addresses, biometric identifiers, photographs, and any
other identifying number or code. Recognisers are patterns, labels ("MRN", "plate", "serial") and a
gazetteer of first names and surnames (``api/data``); no model is loaded. Medical wording is left alone.

Example:
    >>> deidentify("John Smith, MRN 4451223, call 555-123-4567")
    '[NAME], MRN [ID], call [PHONE]'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

DATA = Path(__file__).resolve().parent / "data"

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
           r"Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Close|Crescent|Row|Loop|Alley|Pike)")
_STATES = (r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|"
           r"ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|Alabama|Alaska|Arizona|Arkansas|California|"
           r"Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|"
           r"Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|"
           r"Nevada|Ohio|Oklahoma|Oregon|Pennsylvania|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
           r"Wisconsin|Wyoming|New \w+|North \w+|South \w+|West Virginia|Rhode Island)")
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor|Professor|Nurse|Sister|Father|Rev|Sr|Sra|Herr|Frau|Mme|Mlle)"
_NAME_WORD = r"[A-Z][a-zA-Z'\u00C0-\u017F-]+"
_ANY_WORD = r"[A-Za-z\u00C0-\u017F][a-zA-Z'\u00C0-\u017F-]+"
_UNIT = (r"(?:mg|mcg|µg|ug|g|kg|lb|lbs|ml|mL|l|L|iu|IU|units?|mmol|mol|meq|mEq|mm|cm|m|km|hz|Hz|kcal|cal|"
         r"bpm|mmhg|mmHg|ng|pg|dl|dL|%|x|h|hr|hrs|min|s|ms|days?|weeks?|months?|years?|steps|cells|copies)")
# A token counts as a code when it has letters and digits and is not a dose or a known medical name.
_MEDICAL_CODES = re.compile(
    r"^(?:covid-19|sars-cov-2|h\d+n\d+|hba1c|a1c|b12|b6|d3|k2|t[1-4]dm|cd\d+|il-?\d+[a-z]?|sglt-?2|glp-?1|cox-?[12]|"
    r"5-ht\d?[a-z]?|icd-?\d+(?:-cm)?|her-?2|brca[12]|pm2\.5|pm10|cyp\d+[a-z]\d+|ace-?2|hla-[a-z]+\d+|ca-?125|"
    r"ca19-9|ki-?67|igg\d|ige|pd-?l1|nt-probnp|n95|kn95|mk-\d+|rs\d+|[a-z]\d{2}(?:\.\d{1,4})?|\d+(?:st|nd|rd|th))$",
    re.IGNORECASE,
)

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _const(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: label


def _keep_prefix(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group("prefix") + label


def _labelled(labels: str, label: str, value: str = r"[A-Za-z0-9][A-Za-z0-9./#-]*\d[A-Za-z0-9./#-]*") -> _Rule:
    """A value that follows one of ``labels`` ("MRN: ...", "plate ...")."""
    pattern = rf"(?P<prefix>\b(?:{labels})\b\s*(?:(?:is|was|number|no\.?|num|#|id|code|=|:)\s*)*)" + value
    return re.compile(pattern, re.IGNORECASE), _keep_prefix(label)


_RULES: list[_Rule] = [
    # 14 URLs and 6 emails first, so their parts are not read as other things.
    (re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE), _const("[URL]")),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), _const("[EMAIL]")),
    (re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|io|co|uk|us|info|biz|health|me|app|de|fr|ca|au)"
                r"\b(?:/\S*)?", re.IGNORECASE), _const("[URL]")),
    # 15 IP addresses.
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _const("[IP]")),
    (re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*[A-Fa-f:]{2})(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])"),
     _const("[IP]")),
    # 17 photographs: image files and photo references.
    (re.compile(r"\b[\w.-]+\.(?:jpe?g|png|gif|heic|tiff?|bmp|webp|dcm)\b", re.IGNORECASE), _const("[PHOTO]")),
    # 13 device identifiers in GS1 form: (01)00844588003288(17)141120...
    (re.compile(r"(?:\(\d{2,4}\)[0-9A-Za-z]+){1,6}"), _const("[DEVICE]")),
    # 16 biometric identifiers: a code after a biometric label.
    _labelled(r"fingerprints?|finger ?prints?|voice ?prints?|voiceprint|retina(?:l)?(?: scan)?|iris(?: scan| template)?|"
              r"face ?(?:print|template|id)|palm ?prints?|biometric(?: id| template)?|dna (?:profile|sample)|"
              r"gait (?:signature|profile)", "[BIOMETRIC]",
              r"(?:(?:template|hash|scan|sample|profile|signature|record)\s*[:#]?\s*)?[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*"),
    # 7 SSNs.
    _labelled(r"ssn|social security(?: number| no\.?)?|social", "[SSN]", r"(?:\d[\d -.]{2,10}\d|x{3}-?x{2}-?\d{4})"),
    (re.compile(r"\b\d{3}[- .]\d{2}[- .]\d{4}\b"), _const("[SSN]")),
    # 8-13 record, plan, account, licence, vehicle and device numbers, by label.
    _labelled(r"mrn|mr|medical record(?: number)?|record|chart|patient(?: id| number)?|hospital (?:id|number)|"
              r"case|encounter|visit|admission|accession|specimen|lab", "[ID]"),
    _labelled(r"member(?: id)?|insurance(?: id| number)?|policy|plan|medicare(?: number| id)?|medicaid(?: id| number)?|"
              r"beneficiary(?: id| number)?|subscriber(?: id)?|group|health ?card|nhs(?: number)?|mbi", "[ID]"),
    _labelled(r"account|acct|billing|invoice|iban|card(?: number)?|credit card|bank", "[ID]"),
    _labelled(r"licen[cs]e|driver'?s licen[cs]e|certificate|cert|permit|dea|npi|registration|passport|badge|"
              r"employee(?: id)?|student(?: id)?|id", "[ID]"),
    _labelled(r"plates?|licen[cs]e plate|number plate|tag|vin|vehicle(?: id)?|car|truck|van|motorcycle", "[VEHICLE]",
              r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,}(?:\s[A-Z]{3}\b)?"),
    _labelled(r"serial|sn|s/n|device(?: id)?|imei|udi|pacemaker|pump|implant|monitor|meter|model", "[DEVICE]"),
    # 4-5 phone and fax numbers.
    (re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?\b"),
     _const("[PHONE]")),
    (re.compile(r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b"), _const("[PHONE]")),
    (re.compile(r"\b0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b"), _const("[PHONE]")),
    # 3 dates (all but the year) and ages over 89.
    (re.compile(r"\b\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b"), _const("[DATE]")),
    (re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"), _const("[DATE]")),
    (re.compile(r"\b" + _MONTH + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b", re.IGNORECASE), _const("[DATE]")),
    (re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\.?(?:,?\s+\d{4})?\b", re.IGNORECASE),
     _const("[DATE]")),
    (re.compile(r"\b" + _MONTH + r"\.?,?\s+\d{4}\b"), _const("[DATE]")),
    (re.compile(r"(?P<prefix>\b(?:on|appointment|appt|by|from|until|since|due|dated|scheduled|visit|surgery|seen)\s+)"
                r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])\b", re.IGNORECASE), _keep_prefix("[DATE]")),
    (re.compile(r"\b(?:9\d|1[0-4]\d)\s*-?\s*(?:years?|yrs?|y/?o|yo)\b(?:[- ]old)?", re.IGNORECASE), _const("[AGE 90+]")),
    (re.compile(r"(?P<prefix>\b(?:age[ds]?|aged)\s*:?\s*)(?:9\d|1[0-4]\d)\b", re.IGNORECASE), _keep_prefix("[AGE 90+]")),
    # 2 places: streets, P.O. boxes, ZIP and postal codes, counties, "lives in <Place>".
    (re.compile(r"\b\d{1,6}\s+(?:[A-Z][A-Za-z]+\s+){1,4}" + _STREET + r"\b\.?"
                r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[A-Za-z0-9-]+)?"), _const("[ADDRESS]")),
    (re.compile(r"\b(?:Apt|Apartment|Suite|Unit|Flat)\.?\s*#?\s*\d+[A-Za-z]?\b"), _const("[ADDRESS]")),
    (re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE), _const("[ADDRESS]")),
    _labelled(r"zip(?: code)?|postal code|postcode", "[ZIP]", r"[A-Z0-9]{3,5}(?:[\s-][A-Z0-9]{3,4})?"),
    (re.compile(r"\b\d{5}-\d{4}\b"), _const("[ZIP]")),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"), _const("[ZIP]")),
    (re.compile(r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"), _const("[ZIP]")),
    (re.compile(r"(?:\b" + _NAME_WORD + r"\s+){0,2}" + _NAME_WORD + r",\s*" + _STATES + r"\b(?:\s+\d{5})?"),
     _const("[PLACE]")),
    (re.compile(r"\b(?:" + _NAME_WORD + r"\s+){1,3}(?:County|Parish|Borough|Township|Village|Precinct)\b"),
     _const("[PLACE]")),
    (re.compile(r"(?P<prefix>\b(?:live|lives|living|reside|resides|residing|based|moved|from|near|visiting|"
                r"town of|city of)\s+(?:in\s+|to\s+|at\s+)?)(?:" + _NAME_WORD + r"\s+){0,2}" + _NAME_WORD),
     _keep_prefix("[PLACE]")),
    # 18 other identifying numbers and codes.
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), _const("[ID]")),
    (re.compile(r"\b\d{5}\b(?!\s*(?:" + _UNIT + r")\b)(?!\.\d)"), _const("[ZIP]")),
    (re.compile(r"\b\d[\d -]{5,}\d\b"), lambda m: "[NUMBER]" if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0)),
]
_CODE = re.compile(r"(?<![\w\[])[A-Za-z0-9][A-Za-z0-9./_#-]*[A-Za-z0-9](?![\w\]])")
_NAME_INTRO = re.compile(
    r"(?P<prefix>\b(?:my name is|my name's|name is|i am called|i'm called|call me|named|name\s*[:=]|patient\s*[:=]|"
    r"pt\s*[:=]|signed|regards,|sincerely,|this is|i am|i'm|attn:?|from:|to:|cc:|"
    r"(?:my|our|his|her|their)\s+(?:son|daughter|wife|husband|partner|mother|mum|mom|father|dad|brother|sister|"
    r"child|baby|friend|neighbou?r|grandson|granddaughter|grandmother|grandfather|grandma|grandpa|aunt|uncle|"
    r"niece|nephew|cousin|patient|client|boyfriend|girlfriend|fianc[ée]e?|carer|caregiver|roommate)"
    r"(?:,)?)\s+)(?P<words>" + _ANY_WORD + r"(?:\s+" + _ANY_WORD + r"){0,2})",
    re.IGNORECASE,
)
_STOP = frozenset(
    ["and", "i", "im", "i'm", "with", "who", "from", "age", "aged", "a", "an", "the", "have", "has", "had", "was", "is", "am", "are", "be", "but", "my", "of", "in", "on", "at", "to", "for", "it", "so", "what", "how", "can", "could", "should", "do", "does", "did", "will", "would", "please", "not", "just", "very", "really", "also", "too", "been", "being", "taking", "take", "took", "having", "feeling", "feel", "felt", "here", "there", "that", "this", "these", "those", "when", "where", "why", "which", "while", "after", "before", "since", "about", "years", "year", "old", "months", "weeks", "days", "diagnosed", "suffering", "sick", "ill", "worried", "scared", "allergic", "pregnant", "on", "off", "type", "diabetic", "asthmatic"]
)
_AMBIGUOUS = frozenset(
    ["will", "may", "june", "april", "august", "grace", "hope", "faith", "joy", "mark", "bill", "art", "pat", "sue", "rose", "dawn", "iris", "ivy", "lily", "daisy", "holly", "ruby", "pearl", "amber", "crystal", "summer", "autumn", "winter", "sky", "rain", "river", "stone", "hunter", "chase", "chance", "page", "penny", "ray", "gene", "guy", "max", "sunny", "dale", "glen", "wade", "rich", "frank", "jack", "nick", "rob", "don", "ken", "long", "young", "see", "so", "my", "in", "an", "al", "else", "miles", "major", "man", "many", "min", "miss", "numbers", "soon", "tiny", "van", "ward", "honey", "lean", "brain", "alpha", "angle", "carry", "chin", "conception", "desire", "dot", "era", "flora", "foster", "grant", "kit", "lu", "manual", "marine", "moon", "season", "spring", "sun", "vena", "can", "cannot"]
)


@functools.lru_cache(maxsize=1)
def _gazetteer() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """(first names, first names that are also words, surnames, surnames that are also words), lower case."""

    def read(name: str) -> tuple[frozenset[str], frozenset[str]]:
        plain: set[str] = set()
        worded: set[str] = set()
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            (worded if line.endswith("*") else plain).add(line.rstrip("*"))
        return frozenset(plain - _AMBIGUOUS), frozenset(worded | (plain & _AMBIGUOUS))

    first, first_words = read("first_names.txt")
    last, last_words = read("surnames.txt")
    return first, first_words, last, last_words


_TOKEN = re.compile(r"[A-Za-z\u00C0-\u017F][A-Za-z'\u00C0-\u017F-]*|\S")
_VERBS = frozenset(["is", "has", "had", "was", "says", "said", "took", "takes", "got", "gets", "feels", "felt", "needs", "needed", "and", "or", "who", "'s", ",", "asked", "wants", "went", "keeps", "reports", "reported", "snores", "uses", "used", "can", "cannot", "should", "must"])


_EPONYM_NEXT = frozenset(
    ["disease", "syndrome", "palsy", "sign", "test", "cyst", "ulcer", "fracture", "phenomenon", "disorder", "lymphoma", "sarcoma", "tumor", "tumour", "esophagus", "oesophagus", "reflex", "law", "score", "scale", "criteria", "classification", "procedure", "operation", "maneuver", "manoeuvre", "triad", "node", "nodes", "contracture", "encephalopathy", "anemia", "anaemia", "thyroiditis", "arthritis", "dementia", "virus", "bacillus"]
)


def _is_eponym(tokens: list[tuple[int, int, str]], i: int) -> bool:
    """Whether a disease, syndrome or sign word follows within the next three tokens (Addison's disease)."""
    return any(t[2].lower() in _EPONYM_NEXT for t in tokens[i + 1:i + 4])


def _names(text: str) -> str:
    """Replace names found by the gazetteer and by shape: a known first name with a surname or a verb after it,
    a capitalised known first name inside a sentence, two capitalised words inside a sentence."""
    first, first_words, last, _ = _gazetteer()
    surnames = last | _gazetteer()[3]
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
    hits: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        start, end, word = tokens[i]
        low = word.lower().removesuffix("'s")
        if not word[:1].isalpha() or (i and tokens[i - 1][2] == "[") or low in _STOP or _is_eponym(tokens, i):
            i += 1
            continue
        nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
        nxt_low = nxt.lower().removesuffix("'s")
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".!?:;\"(\n-"
        cap = word[:1].isupper() and not word.isupper()
        nxt_cap = nxt[:1].isupper() and nxt[:1].isalpha() and not nxt.isupper() and nxt_low not in _STOP
        possessive = word.endswith("'s")
        if low in first:
            name = (cap and (not sentence_start or nxt_cap or nxt_low in surnames or nxt_low in _VERBS or possessive)) or (
                not cap and ((nxt_low in last and nxt_low not in _STOP) or nxt_low in _VERBS or possessive))
        elif low in first_words:
            name = cap and ((nxt_cap and nxt_low in surnames) or (not sentence_start and nxt_cap))
        else:
            after = tokens[i + 2][2].lower() if i + 2 < len(tokens) else ""
            name = cap and nxt_cap and (not sentence_start or after in _VERBS)
        if not name:
            i += 1
            continue
        stop, j = end, i + 1
        while j < len(tokens) and j <= i + 2 and not word.endswith("'s"):
            w = tokens[j][2]
            wl = w.lower().removesuffix("'s")
            if (w[:1].isupper() and w[:1].isalpha() and wl not in _STOP) or (wl in last and wl not in _STOP):
                stop = tokens[j][1]
                j += 1
                if w.endswith("'s"):
                    break
                continue
            break
        if i and tokens[i - 1][2][:1].isupper() and tokens[i - 1][2].isalpha() and tokens[i - 1][2].lower() not in _STOP \
                and (i < 2 or tokens[i - 2][2] != "["):
            start = tokens[i - 1][0]
        hits.append((start, stop))
        i = j
    for start, stop in reversed(hits):
        text = text[:start] + "[NAME]" + text[stop:]
    return text


def _name_intro(match: re.Match[str]) -> str:
    kept: list[str] = []
    for word in match.group("words").split():
        if word.lower().strip(",.") in _STOP or word.startswith("["):
            break
        kept.append(word)
    if not kept:
        return match.group(0)
    rest = match.group("words")[len(" ".join(kept)):]
    return match.group("prefix") + "[NAME]" + rest


def _code(match: re.Match[str]) -> str:
    token = match.group(0)
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    if digits < 3 or letters == 0 or len(token) < 5 or _MEDICAL_CODES.match(token):
        return token
    if re.fullmatch(r"\d+(?:[.,]\d+)?(?:" + _UNIT + r")(?:/\w+)?", token, re.IGNORECASE):
        return token
    return "[ID]"


def deidentify(text: str) -> str:
    """Replace identifiers of the 18 Safe Harbor classes in ``text`` with placeholders.

    URL-encoded text (``a%20b``, ``a+b``) is decoded first, so identifiers in query strings are found too.

    Args:
        text: free text, e.g. a question or a query string.

    Returns:
        The text with each identifier replaced by ``[NAME]``, ``[DATE]``, ``[PHONE]``, ``[ID]``... and
        medical content left as it was.
    """
    if not text:
        return text
    out = unquote(text) if re.search(r"%[0-9A-Fa-f]{2}", text) else text
    if "+" in out and " " not in out:
        out = out.replace("+", " ")
    out = _NAME_INTRO.sub(_name_intro, out)
    out = re.sub(r"(?P<prefix>\b" + _TITLE + r"\.?\s+)" + _NAME_WORD + r"(?:\s+(?:[A-Z]\.\s*)?" + _NAME_WORD + r"){0,2}",
                 lambda m: m.group("prefix") + "[NAME]", out)
    for pattern, replace in _RULES:
        out = pattern.sub(replace, out)
    out = _CODE.sub(_code, out)
    return _names(out)


_GENERIC = frozenset(
    ["the", "of", "and", "on", "at", "in", "to", "fax", "ssn", "dob", "age", "yo", "year", "years", "old", "mrn", "mr", "ext", "badge", "permit", "s", "n", "ny", "ca", "vp", "street", "st", "road", "north", "lane", "suite", "box", "p", "o", "po", "apt", "township", "county", "jpg", "jpeg", "png", "gif", "heic", "tiff", "webp", "bmp", "dcm", "http", "https", "ftp", "www", "id", "no", "number"]
)


def residue(identifier: str, text: str, output: str) -> list[str]:
    """The parts of ``identifier`` (planted in ``text``) still readable in ``output``, the de-identified
    ``text``: each of its word or number tokens (two characters or more; labels such as "fax" or "MRN" and
    street words aside) that ``output`` holds more often than the rest of ``text`` does.

    Example:
        >>> residue("John Smith", "John Smith has chest pain", "[NAME] Smith has chest pain")
        ['smith']
    """
    def count(value: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for token in re.findall(r"[A-Za-z0-9\u00C0-\u017F]+", value.lower()):
            found[token] = found.get(token, 0) + 1
        return found

    tokens = {t for t in count(identifier) if len(t) >= 2} - _GENERIC
    outside, kept = count(text.replace(identifier, " ")), count(re.sub(r"\[[A-Z0-9 +]+\]", " ", output))
    return sorted(t for t in tokens if kept.get(t, 0) > outside.get(t, 0))

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
import unicodedata
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
    r"^(?:covid-?19|sars-cov-2|h\d+n\d+|hba1c|a1c|b12|b6|d3|k2|t[1-4]dm|cd\d+|il-?\d+[a-z]?|sglt-?2|glp-?1|cox-?[12]|"
    r"5-ht\d?[a-z]?|icd-?\d+(?:-cm)?|her-?2|brca[12]|pm2\.5|pm10|cyp\d+[a-z]\d+|ace-?2|hla-[a-z]+\d+|ca-?125|"
    r"ca19-9|ki-?67|igg\d|ige|pd-?l1|nt-probnp|n95|kn95|mk-\d+|rs\d+|[a-z]\d{2}(?:\.\d{1,4})?|\d+(?:st|nd|rd|th)|"
    r"[cltsd]\d{1,2}(?:-[cltsd]?\d{1,2})?|p?t[0-4][a-c]?|n[0-3][a-c]?|m[01][a-c]?|g[1-5][ab]?|a[1-3]|"
    r"[a-z]\d{2,4}[a-z]|spo2|sao2|pao2|paco2|fev1|hba1c|a1c|cd\d+|ldl|hdl|vo2|ige|t3|t4|cyp\w+)$",
    re.IGNORECASE,
)

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _const(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: label


def _keep_prefix(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group("prefix") + label


def _labelled(labels: str, label: str, value: str = r"[A-Za-z0-9][A-Za-z0-9./#-]*\d[A-Za-z0-9./#-]*") -> _Rule:
    """A value that follows one of ``labels`` ("MRN: ...", "plate ...")."""
    pattern = rf"(?P<prefix>\b(?:{labels})\b\s*(?:(?:is|was|number|no\.?|num|#|id|code|=|:)\s*)*)(?:{value})"
    return re.compile(pattern, re.IGNORECASE), _keep_prefix(label)


_RULES: list[_Rule] = [
    # 14 URLs and 6 emails first, so their parts are not read as other things; then handles and user names
    # ("@marie_22", "jess_b_1988").
    (re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE), _const("[URL]")),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), _const("[EMAIL]")),
    (re.compile(r"(?<![\w@])@[\w.]{2,}\w"), _const("[ID]")),
    (re.compile(r"(?<![\w\[])(?=\w*[A-Za-z])\w+_\w+"), _const("[ID]")),
    (re.compile(r"(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|io|co|uk|us|info|biz|health|me|app|de|fr|ca|au)"
                r"\b(?:/\S*)?", re.IGNORECASE), _const("[URL]")),
    (re.compile(r"(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}/[\w/?=&%.#-]*[\w/]", re.IGNORECASE), _const("[URL]")),
    # 15 IP addresses (an IPv4-mapped IPv6 address whole).
    (re.compile(r"(?<![\w:])::ffff:(?:\d{1,3}\.){3}\d{1,3}\b", re.IGNORECASE), _const("[IP]")),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _const("[IP]")),
    (re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*[A-Fa-f:]{2})(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])"),
     _const("[IP]")),
    # 17 photographs: image files and photo references.
    (re.compile(r"\bScreen ?shot[\w .,-]*?\.(?:jpe?g|png|heic|tiff?|gif)\b", re.IGNORECASE), _const("[PHOTO]")),
    (re.compile(r"(?<![\w.-])[\w.-]+(?: ?\(\d+\))?\.(?:jpe?g|png|gif|heic|tiff?|bmp|webp|dcm|mp4|mov|m4v|avi|mkv|webm|3gp|wmv)\b",
                re.IGNORECASE), _const("[PHOTO]")),
    # 13 device identifiers in GS1 form: (01)00844588003288(17)141120...
    (re.compile(r"\(01\)\d{14}(?:\(\d{2,4}\)[0-9A-Za-z]+){0,5}|(?:\(\d{2,4}\)[0-9A-Za-z]+){2,6}"), _const("[DEVICE]")),
    # 16 biometric identifiers: a code after a biometric label.
    _labelled(r"fingerprints?|finger ?prints?|voice ?prints?|voiceprint|retina(?:l)?(?: scan)?|iris(?: scan| template)?|"
              r"face ?(?:print|template|id)|palm ?prints?|biometric(?: id| template)?|dna (?:profile|sample)|"
              r"gait (?:signature|profile)", "[BIOMETRIC]",
              r"(?:(?:template|hash|scan|sample|profile|signature|record)\s*[:#]?\s*)?[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*"),
    # 7 SSNs.
    _labelled(r"ssn|social security(?: number| no\.?)?|social", "[SSN]", r"(?:\d[\d -.]{2,10}\d|x{3}-?x{2}-?\d{4})"),
    (re.compile(r"\b\d{3}[- .]\d{2}[- .]\d{4}\b"), _const("[SSN]")),
    # 12 vehicles: UK registrations by shape; plates, registrations and VINs by label (before licences, so
    # "car license" and "registration" name a vehicle here).
    (re.compile(r"\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b"), _const("[VEHICLE]")),
    _labelled(r"(?:(?:car|truck|van|motorcycle|motorbike|vehicle)(?:'s)?\s+)?(?:licen[cs]e plate|number plate|"
              r"plates?|reg(?:istration)?\.?(?: mark)?|tag(?: number)?|vin)|(?:car|truck|van|motorcycle|motorbike)"
              r"(?:'s)?\s+licen[cs]e", "[VEHICLE]", r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,}(?:\s[A-Z]{3}\b)?|"
              r"[A-Z]{1,4}[ -]?\d{2,5}\b"),
    # 10 account numbers: IBANs by shape.
    (re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b"), _const("[ID]")),
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
    (re.compile(r"(?P<prefix>\b(?:on|appointment|appt|by|from|until|since|due|dated|scheduled|visit|surgery|seen|"
                r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
                r"\.?,?\s+)"
                r"(?:(?:0?[1-9]|1[0-2])[/.](?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])[/.](?:0?[1-9]|1[0-2]))\b(?![/.]\d)",
                re.IGNORECASE), _keep_prefix("[DATE]")),
    (re.compile(r"\b(?:9\d|1[0-4]\d)\s*-?\s*(?:years?|yrs?|y/?o|yo)\b(?:[- ]old)?", re.IGNORECASE), _const("[AGE 90+]")),
    (re.compile(r"(?P<prefix>(?<!\[)\b(?:age[ds]?|aged)\s*:?\s*)(?:9\d|1[0-4]\d)\b", re.IGNORECASE), _keep_prefix("[AGE 90+]")),
    # an age over 89 said of someone without "years": "my grandmother is 96", "she turned 91", "dad, 93, fell"
    (re.compile(r"(?P<prefix>\b(?:he|she|they|i|i'm|im|who|mum|mom|mother|dad|father|grandmother|grandfather|grandma|"
                r"grandpa|gran|nan|nana|granny|grandad|grandparent|aunt|uncle|wife|husband|patient|pt|resident|"
                r"neighbou?r|friend|man|woman|lady|gentleman)(?:'s)?\s+(?:is|was|turned|turns|just turned|will be|aged)"
                r"\s+)(?:9\d|1[0-4]\d)\b(?!\s*(?:%|percent|" + _UNIT + r")\b)(?!\.\d)", re.IGNORECASE), _keep_prefix("[AGE 90+]")),
    (re.compile(r"(?P<prefix>\b(?:mum|mom|mother|dad|father|grandmother|grandfather|grandma|grandpa|gran|nan|granny|"
                r"grandad|aunt|uncle|wife|husband|patient|neighbou?r|man|woman|lady),\s*)(?:9\d|1[0-4]\d)(?=\s*,)",
                re.IGNORECASE), _keep_prefix("[AGE 90+]")),
    (re.compile(r"\b(?:ninety|(?:a|one) hundred(?: and)?)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine|"
                r"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty))?"
                r"[- ](?:years?|yrs?)[- ]old\b", re.IGNORECASE), _const("[AGE 90+]")),
    # 2 places: streets, P.O. boxes, ZIP and postal codes, counties, "lives in <Place>".
    (re.compile(r"\b\d{1,6}\s+(?:(?:[NSEW]|NE|NW|SE|SW)\.?\s+)?(?:[A-Z][A-Za-z]+\s+){1,4}" + _STREET + r"\b\.?"
                r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[A-Za-z0-9-]+)?"), _const("[ADDRESS]")),
    (re.compile(r"\b\d{1,5},?\s+(?:rue|calle|avenida|rua|chemin|via del|viale|straße|strasse|ulica)\s+"
                r"(?:[\w'\u00C0-\u017F-]+\s+){0,3}[\w'\u00C0-\u017F-]+", re.IGNORECASE), _const("[ADDRESS]")),
    (re.compile(r"(?<![\w-])[A-Za-z\u00C0-\u017F-]+(?:straße|strasse|gasse|weg|platz)\s+\d{1,5}[a-z]?\b"), _const("[ADDRESS]")),
    (re.compile(r"(?<![\w.])-?\d{1,3}\.\d{3,}°?\s*[NSns]?,\s*-?\d{1,3}\.\d{3,}°?\s*[EWew]?(?![\w.])"), _const("[GEO]")),
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
    (re.compile(r"(?<![\w-])\d[\d -]{5,}\d\b"), lambda m: "[NUMBER]" if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0)),
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
        if (not word[:1].isalpha() or (i and tokens[i - 1][2] == "[") or low in _STOP or _is_eponym(tokens, i)
                or low in _CALENDAR or low in _areas()):
            i += 1
            continue
        nxt = tokens[i + 1][2] if i + 1 < len(tokens) else ""
        nxt_low = nxt.lower().removesuffix("'s")
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".!?:;\"(\n-"
        cap = word[:1].isupper() and not word.isupper()
        nxt_cap = nxt[:1].isupper() and nxt[:1].isalpha() and not nxt.isupper() and nxt_low not in _STOP
        possessive = word.endswith("'s")
        particle = _particle_run(tokens, i + 1)
        shouted = word.isupper() and len(word) > 1 and nxt.isupper() and nxt[:1].isalpha() and nxt_low not in _STOP
        if shouted:  # a name in capitals: a known first name before another word in capitals
            name = low in first
        elif low in first and not (not cap and _frequency(low) >= PROPER_COMMON):  # "my son", not a name
            name = (cap and (not sentence_start or nxt_cap or nxt_low in surnames or nxt_low in _VERBS or possessive)) or (
                not cap and ((nxt_low in last and nxt_low not in _STOP) or nxt_low in _VERBS or possessive))
        elif low in first_words:
            name = cap and ((nxt_cap and nxt_low in surnames) or (not sentence_start and nxt_cap))
        elif particle:  # Ludwig van Beethoven, Maria de la Cruz
            name = cap and not sentence_start
        else:
            after = tokens[i + 2][2].lower() if i + 2 < len(tokens) else ""
            name = cap and nxt_cap and (not sentence_start or after in _VERBS)
        if not name:
            i += 1
            continue
        stop, j, words = end, i + 1, 0
        while j < len(tokens) and words < 2 and not word.endswith("'s"):
            run = _particle_run(tokens, j)
            if run:
                j += run  # the particles and the capitalised word after them join the name
            w = tokens[j][2]
            wl = w.lower().removesuffix("'s")
            if (w[:1].isupper() and w[:1].isalpha() and wl not in _STOP) or (wl in last and wl not in _STOP):
                stop = tokens[j][1]
                j += 1
                words += 1
                if w.endswith("'s"):
                    break
                continue
            break
        if i and tokens[i - 1][2][:1].isupper() and tokens[i - 1][2].isalpha() and tokens[i - 1][2].lower() not in _STOP \
                and (i < 2 or tokens[i - 2][2] != "[") and (not hits or tokens[i - 1][0] >= hits[-1][1]):
            start = tokens[i - 1][0]
        hits.append((start, stop))
        i = j
    for start, stop in reversed(hits):
        text = text[:start] + "[NAME]" + text[stop:]
    return text


_PARTICLES = frozenset(["van", "von", "der", "den", "de", "del", "della", "la", "le", "du", "da", "di", "dos", "das",
                        "ter", "ten", "bin", "binti", "ibn", "al", "el", "mac", "ní", "nic", "ó", "ap", "ab", "ferch",
                        "bint", "zu"])


def _particle_run(tokens: list[tuple[int, int, str]], j: int) -> int:
    """How many name particles ("van der", "de la") start at token ``j`` when a capitalised word follows them."""
    n = j
    while n < len(tokens) and n - j < 3 and tokens[n][2] in _PARTICLES:
        n += 1
    if n > j and n < len(tokens) and tokens[n][2][:1].isupper() and tokens[n][2][:1].isalpha():
        return n - j
    return 0


# "Surname, Firstname" once the surname is found; a first name signing off a message ("thanks - Kwame").
_LAST_FIRST = re.compile(r"\[NAME\],\s*(?P<word>[A-Z][a-z'\u00C0-\u017F-]+)\b")
_SIGN_OFF = re.compile(
    r"(?P<prefix>(?:^|[\s,.!])(?:-{1,2}|\u2013|\u2014|thanks|thank you|cheers|best|love|regards|sincerely|yours)"
    r",?\s+)(?P<words>[A-Z][a-z'\u00C0-\u017F-]+(?:\s+[A-Z][a-z'\u00C0-\u017F-]+)?)\s*[.!]?\s*$",
    re.IGNORECASE)


def _after_names(text: str) -> str:
    first, first_words, _, _ = _gazetteer()

    def last_first(match: re.Match[str]) -> str:
        word = match.group("word").lower()
        return "[NAME]" if word in first or word in first_words else match.group(0)

    text = _LAST_FIRST.sub(last_first, text)
    return _SIGN_OFF.sub(lambda m: m.group("prefix") + "[NAME]"
                         if m.group("words")[:1].isupper() and m.group("words").lower() not in _STOP else m.group(0),
                         text)


def _name_intro(match: re.Match[str]) -> str:
    kept: list[str] = []
    for word in match.group("words").split():
        plain = word.lower().strip(",.")
        if plain in _STOP or word.startswith("[") or _is_drug(plain) or (
                word.islower() and not _is_name(plain) and (_frequency(plain) >= COMMON or plain in _medical()
                                                             or _variant_known(plain, _common()))):
            break  # "my son ate...": a common word in lower case is not a name
        kept.append(word)
    if not kept:
        return match.group(0)
    rest = match.group("words")[len(" ".join(kept)):]
    return match.group("prefix") + "[NAME]" + rest


# A title written in lower case before a name ("dr patel", "mrs jones next door").
_LOWER_TITLE = re.compile(r"(?P<prefix>\b(?:mr|mrs|ms|miss|mx|dr|prof|doctor|nurse|sister)\.?\s+)(?P<word>[a-z][a-z'-]+)")


def _lower_titled(match: re.Match[str]) -> str:
    word = match.group("word")
    if word in _STOP or (_common_lower(word) and word not in _gazetteer()[2] and word not in _gazetteer()[0]):
        return match.group(0)  # "the dr said", "nurse practitioner"
    return match.group("prefix") + "[NAME]"


def _code(match: re.Match[str]) -> str:
    token = match.group(0)
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    if digits < 3 or letters == 0 or len(token) < 5 or _MEDICAL_CODES.match(token):
        return token
    if re.fullmatch(r"\d+(?:[.,]\d+)?(?:" + _UNIT + r")(?:/\w+)?", token, re.IGNORECASE):
        return token
    return "[ID]"


# pyspellchecker's English list: a word seen at least COMMON times is common English; the rest of the list
# (count 50, a dictionary of every word form, many a name or a place among them) counts only in lower case. A
# name or a place name counts as common only when seen PROPER_COMMON times ("reading", "bath", not "london").
COMMON, PROPER_COMMON = 100, 20_000
# Drug stems (INN suffixes): a medicine missing from the bundled knowledge still reads as a medicine.
_DRUG = re.compile(r"(?:mab|nib|pril|sartan|olol|statin|azole|cillin|mycin|cycline|floxacin|tidine|prazole|gliptin|"
                   r"gliflozin|glutide|triptan|azepam|oxetine|afil|parin|xaban|dronate|lukast|terol|tropium|"
                   r"profen|barbital|caine|dipine|setron|tadine|vastatin|formin|thiazide|semide)$")
_CALENDAR = frozenset(["january", "february", "march", "april", "may", "june", "july", "august", "september",
                       "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
                       "saturday", "sunday"])
# Words that follow an eponym or a named instrument (the Wells score, the Atkins diet, the Ottawa rules).
_NAMED_THING = _EPONYM_NEXT | frozenset(["chart", "rules", "rule", "diet", "class", "stool", "trial", "study", "protocol",
                                         "method", "technique", "grade", "grading", "staging", "questionnaire", "index",
                                         "signs", "tests", "scores", "scales", "diseases", "syndromes"])
_PLACEHOLDER = re.compile(r"\[[A-Z0-9 +]+\]")
_CLITIC = re.compile(r"(?:'s|'t|'m|'re|'ve|'ll|'d|n't|s')$")


def _lines(path: Path) -> set[str]:
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")}


@functools.lru_cache(maxsize=1)
def _frequencies() -> dict[str, int]:
    from spellchecker import SpellChecker

    return dict(SpellChecker(language="en", distance=1).word_frequency.dictionary)


def _frequency(word: str) -> int:
    return _frequencies().get(word, 0)


@functools.lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    """pyspellchecker's words seen ``COMMON`` times or more."""
    return frozenset(w for w, n in _frequencies().items() if n >= COMMON)


@functools.lru_cache(maxsize=1)
def _medical() -> frozenset[str]:
    from api.vocabulary import MEDICAL

    return frozenset(_lines(MEDICAL))


@functools.lru_cache(maxsize=1)
def _areas() -> frozenset[str]:
    from api.vocabulary import AREAS

    return frozenset(_lines(AREAS))


@functools.lru_cache(maxsize=1)
def _known() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(words known not to identify anyone when written in lower case, when capitalised, place names smaller
    than a state), lower case.

    Lower case: any word of pyspellchecker's English list but first names and places, the medical words of the
    bundled knowledge, and the words of countries, states and continents (``api.vocabulary`` writes the lists).
    Capitalised: the same, but of pyspellchecker's list only the words seen ``COMMON`` times, less the names
    of the gazetteer and the places unless seen ``PROPER_COMMON`` times.
    """
    from api.vocabulary import PLACES

    areas = _areas()
    places = _lines(PLACES) - areas
    first, _, last, _ = _gazetteer()
    frequencies = _frequencies()
    medical = _medical()
    proper = places | first | last
    # Lower case: a word of the list, unless it is a name or a place seen too rarely to be a word as well
    # ("priya", "ballarat"; "son", "reading" stay). Capitalised: only the list's common words, and a medical word
    # only when it is no name ("Genevieve", "Jones"; an eponym stays when its disease or sign follows it).
    lower = {w for w, n in frequencies.items() if n >= PROPER_COMMON or w not in proper or (n >= COMMON and w not in first)}
    capitalised = {w for w, n in frequencies.items() if n >= COMMON and (n >= PROPER_COMMON or w not in proper)}
    return (frozenset(lower | (medical - first) | areas), frozenset(capitalised | (medical - proper) | areas),
            frozenset(places))


def _plain(word: str) -> str:
    """Lower case, curly apostrophes straightened, accents taken off (Barré -> barre)."""
    word = unicodedata.normalize("NFKD", word.lower().replace("\u2019", "'"))
    return "".join(c for c in word if not unicodedata.combining(c))


# British spellings and the American ones pyspellchecker lists: neighbour, realising, nebuliser, anaemia.
_SPELLINGS = [("our", "or"), ("ise", "ize"), ("ising", "izing"), ("ised", "ized"), ("iser", "izer"),
              ("isation", "ization"), ("yse", "yze"), ("ae", "e"), ("oe", "e"), ("tre", "ter"), ("ogue", "og"),
              ("ll", "l"), ("ence", "ense")]


def _variant_known(word: str, known: frozenset[str]) -> bool:
    """Whether ``word`` is a known word spelt another way: an apostrophe left out ("dont", "isnt", "ive") or
    a British spelling."""
    if any(word[:k] + "'" + word[k:] in known for k in range(1, len(word))):
        return True
    return any(old in word and word.replace(old, new) in known for old, new in _SPELLINGS)


def _is_name(word: str) -> bool:
    """Whether the gazetteer holds ``word`` as a first name or a surname (those that are also words included)."""
    first, first_words, last, last_words = _gazetteer()
    return word in first or word in first_words or word in last or word in last_words


def _common_lower(word: str) -> bool:
    """Whether ``word``, written in lower case, is a known word that is not a first name ("ate", "realised")."""
    lower = _known()[0]
    return word in lower or _variant_known(word, lower) or _is_drug(word)


@functools.lru_cache(maxsize=65_536)
def _is_drug(word: str) -> bool:
    """A medicine's generic or brand name (drug-named-entity-recognition's dictionary: DrugBank, MeSH, NHS,
    MedlinePlus), unless it is also a first name ("Allegra")."""
    from drug_named_entity_recognition import find_drugs

    return word not in _gazetteer()[0] and bool(find_drugs([word], is_ignore_case=True))


def _unknown_words(text: str) -> str:
    """Replace each word not known to be harmless: a place name with [PLACE], another capitalised word with
    [NAME], any other word with [WORD] (a month or a weekday alone stays). What the patterns missed (a rare name, a
    village, a nickname) cannot reach a log this way; the price is an occasional word the lists lack (a brand
    name, a typo)."""
    from api.vocabulary import WORD  # imported here: `python -m api.vocabulary` runs without it loaded twice

    lower, capitalised, places = _known()
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 20 and sum(c.isupper() for c in letters) >= 0.7 * len(letters)

    def replace(match: re.Match[str], gap: str) -> str:
        word = match.group(0)
        if shouting and len(word) > 2:  # a message in capitals: each word is judged as if capitalised
            verdict = replace_word(word.capitalize(), match.start(), gap)
            return word if verdict == word.capitalize() else verdict
        return replace_word(word, match.start(), gap)

    def replace_word(word: str, start: int, gap: str) -> str:
        low = _plain(word)
        stem = _CLITIC.sub("", low)
        if (len(stem) <= 2 and stem.isascii()) or _DRUG.search(stem) or _is_drug(low):
            return word
        if (word[0].islower() and not word.islower()) or _UNIT_WORD.fullmatch(word):  # eGFR, mRNA, hCG; mcg
            return word
        if gap[start + len(word):start + len(word) + 1].isdigit():  # part of a code or a name like SpO2, CYP2D6
            return word
        if len(word) <= 5 and "/" in gap[max(0, start - 1):start + len(word) + 1]:  # a unit: mmol/mol, umol/L
            return word
        if word.isupper() and len(word) <= 5:  # an abbreviation: NHS, DVT, FRAX
            return word
        cap = word[0].isupper()
        if stem in _CALENDAR:
            return word  # a month or weekday alone is no date of anyone's ("flu in May"); with a day it was replaced
        if cap and stem in places and re.search(r"\b(?:in|at|near|from|to|around|outside|live|lives|moved)\s*$",
                                                gap[max(0, start - 12):start], re.IGNORECASE):
            return "[PLACE]"  # a town that is also a word, where a place is named: "I'm in Reading"
        known = capitalised if cap else lower
        if (low in known or stem in known
                or all(part in known or (len(part) <= 2 and part.isascii()) for part in stem.split("'"))
                or _variant_known(stem, known) or _is_drug(stem)):
            return word
        following = [_plain(w) for w in WORD.findall(gap[start + len(word):start + len(word) + 120])[:3]]
        if cap and any(w in _NAMED_THING for w in following):
            return word
        if stem in places:
            return "[PLACE]"
        return "[NAME]" if cap else "[WORD]"

    out, last = [], 0
    for placeholder in [*_PLACEHOLDER.finditer(text), None]:
        stop = placeholder.start() if placeholder else len(text)
        gap = text[last:stop]
        out.append(WORD.sub(lambda m, gap=gap: replace(m, gap), gap))  # type: ignore[misc]
        if placeholder:
            out.append(placeholder.group(0))
            last = placeholder.end()
    return "".join(out)


_NUMERIC = re.compile(r"\[(?:ID|NUMBER|ZIP|PHONE|VEHICLE|DEVICE|SSN|BIOMETRIC)\]")
_SHORT_CAPS = re.compile(r"[#(+]*(?:[A-Z]{1,4}(?:-[A-Z]{1,4})?|Rx|No|Nr|Ref)\)?")
_HAS_DIGIT = re.compile(r"[#(+]*[A-Za-z0-9]*\d[A-Za-z0-9./#()+-]*")
_MEASURE = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?%?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d+)?/\d{1,3}(?:\.\d+)?|"
                      r"(?:19|20)\d{2}s?")
_UNIT_WORD = re.compile(r"(?:" + _UNIT + r"|calories|kilos?|pounds?|stone|feet|inches|hours?|minutes?|seconds?|"
                        r"times|doses?|tablets?|pills?|puffs?|drops?|servings?|people|patients?)\b", re.IGNORECASE)
# A street and house number after "at" or a short article ("at [NAME] 318", "Am [NAME] 14"); a house number
# before a replaced name ("12 [NAME]"), or before any replaced word and a street word.
_STREET_NUMBER = re.compile(r"(?P<prefix>\b(?:at|on|in|to|near)\s+)(?:[A-Z][a-z]{1,3}\s+)?\[(?:NAME|PLACE|WORD)\]\s+"
                            r"\d{1,5}[a-z]?\b(?!\s*(?:" + _UNIT + r")\b)")
# A house number before a replaced name ("12 [NAME]"), or before any replaced word and a street word.
_ADDRESS_AFTER = re.compile(r"\b\d{1,5}[A-Za-z]?\s+(?:\[(?:NAME|PLACE)\](?:\s+" + _STREET + r"\b\.?)?|\[WORD\]\s+"
                            + _STREET + r"\b\.?)", re.IGNORECASE)


_JOINERS = "|".join(sorted(_PARTICLES | {"y", "e", "do"}, key=len, reverse=True))  # García y López, Sousa e Silva
_NAME_PARTICLES = re.compile(r"\[NAME\](?:\s+(?:" + _JOINERS + r")(?:\s+(?:" + _JOINERS + r"))*\s+\[NAME\])+",
                             re.IGNORECASE)
_ORDINAL = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
            r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty[- ]\w+|thirtieth|"
            r"thirty[- ]first|\d{1,2}(?:st|nd|rd|th))")
# "March the third", "the twenty-first of December", "[DATE] the third": a day in words beside a month.
_DATE_ORDINAL = re.compile(r"(?:\[DATE\]|\b" + _MONTH + r")\.?,?\s+(?:the\s+)?" + _ORDINAL + r"\b|\b(?:the\s+)?" + _ORDINAL
                           + r"\s+(?:of\s+)?(?:\[DATE\]|" + _MONTH + r"\b)", re.IGNORECASE)


# A name or place in parts joined by hyphens: "Saint-[NAME]-[NAME]".
_HYPHENATED = re.compile(r"(?<![\w-])(?:[^\W\d_]+-)*\[(?:NAME|PLACE)\](?:-(?:[^\W\d_]+|\[(?:NAME|PLACE|WORD)\]))+|"
                         r"(?:[^\W\d_]+-)+\[(?:NAME|PLACE)\]")
_WEEKDAY = r"(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|rsday|urday)?\.?"
# A weekday, another date part or a time beside a date: "tues [DATE]", "[DATE], [DATE] 09:12", "[DATE] at 2pm".
_DATE_JOIN = re.compile(r"\b" + _WEEKDAY + r",?\s+\[DATE\]|\[DATE\],?\s+\[DATE\]|\[DATE\],?\s+(?:at\s+)?"
                        r"\d{1,2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\.?|(?<=\d[:.]\d\d))", re.IGNORECASE)
# A photograph's number: "photo #58213" -> "[PHOTO]".
_PHOTO_NUMBER = re.compile(r"\b(?:photo|photograph|image|picture|pic|selfie|video|clip|scan)s?\s*(?:no\.?|number|#)?\s*"
                           r"#?\[(?:ZIP|NUMBER|ID)\]", re.IGNORECASE)


def _is_code(token: str) -> bool:
    if _NUMERIC.search(token) or token in ("[WORD]", "[NAME]"):
        return True
    if "[" in token or "]" in token:
        return False
    return bool(_SHORT_CAPS.fullmatch(token) or _HAS_DIGIT.fullmatch(token))


def _code_runs(text: str) -> str:
    """Replace runs of code-like tokens that together make an identifier: digits in groups ("6612 0098 21",
    "+44 121 496 0555"), letters with digits ("TN 09 AB 1234", "KDA 123B"), a label before a number placeholder
    ("HAR [NUMBER]"), a lone long code ("QX7T4L"). Measurements stay: "7.2%", "120/80", "45,000", "B12 1000 mcg",
    a year."""
    spans = [(m.start(), m.end(), m.group(0).rstrip(",.;:!?")) for m in re.finditer(r"\S+", text)]
    out, last, i = [], 0, 0
    while i < len(spans):
        if not _is_code(spans[i][2]):
            i += 1
            continue
        j = i
        while j + 1 < len(spans) and _is_code(spans[j + 1][2]) and spans[j][2] == text[spans[j][0]:spans[j][1]]:
            j += 1
        tokens = [t for _, _, t in spans[i:j + 1]]
        start, end = spans[i][0], spans[j][0] + len(spans[j][2])
        label = _run_label(tokens, text[end:end + 16])
        if label:
            out += [text[last:start], label]
            last = end
        i = j + 1
    return "".join([*out, text[last:]])


def _unit_suffix(token: str) -> bool:
    """A number with its unit written on ("500mg", "5ml", "10m"; not "447M", a plate's part)."""
    if not token[:1].isdigit():
        return False
    unit = re.sub(r"^[\d.,]+", "", token)
    if unit.isupper() and unit not in ("IU", "MG", "ML", "KG", "L", "MMHG", "MMOL"):
        return False  # "447M", "1HZ": a plate's part, not 447 metres
    return bool(unit) and (len(unit) > 1 or unit.islower()) and _UNIT_WORD.fullmatch(unit) is not None


def _run_label(tokens: list[str], after: str) -> str | None:
    """The placeholder a run of code-like tokens becomes, or None when it is not an identifier."""
    placeholder = next((m.group(0) for t in tokens for m in [_NUMERIC.search(t)] if m), None)
    if placeholder:
        return placeholder if len(tokens) > 1 or tokens[0] != placeholder else None
    if all(t in ("[WORD]", "[NAME]") or not re.search(r"\d", t) for t in tokens):
        return None  # words only: no number to hide
    if _UNIT_WORD.match(after.lstrip()) or any(_unit_suffix(t) or _UNIT_WORD.fullmatch(t) for t in tokens):
        return None  # a dose or a measurement: "D 50000 IU", "500mg"
    digits = sum(sum(c.isdigit() for c in t) for t in tokens if not _MEASURE.fullmatch(t))
    medical = all(_MEDICAL_CODES.match(t) or _MEASURE.fullmatch(t) or (t.isalpha() and t.lower() in _medical())
                  for t in tokens)
    if medical and len(tokens) > 1:
        return None  # "A1c 6.8", "L4 L5", "pT2 N1 M0", "CD4 350", "LDL 3.2"
    if len(tokens) > 1 and any(_run_label([t], "") for t in tokens if t not in ("[WORD]", "[NAME]")):
        return "[ID]"  # one of the tokens is a code on its own: "[NAME] DKR47P"
    if len(tokens) == 1:
        token = tokens[0]
        if _MEDICAL_CODES.match(token) or _MEASURE.fullmatch(token):
            return None
        if re.fullmatch(r"\d{4,}", token) or sum(c.isdigit() for c in token) >= 6 and not re.search(r"[A-Za-z]", token):
            return "[NUMBER]"  # 1234, 384.721.905-16
        code = re.fullmatch(r"(?=[A-Z0-9-]*[A-Z])(?=(?:[A-Z-]*\d){2})[A-Z0-9-]{6,}", token)
        return "[ID]" if code else None
    mixed = any(re.search(r"[A-Za-z]", t) and re.search(r"\d", t) for t in tokens)
    every = sum(sum(c.isdigit() for c in t) for t in tokens)
    letters = sum(1 for t in tokens if (t.isalpha() and len(t) <= 3 and t.lower() not in _known()[0])
                  or t in ("[WORD]", "[NAME]"))
    numbers = sum(1 for t in tokens if re.fullmatch(r"\d{1,4}", t))
    mixed_tokens = sum(1 for t in tokens if re.search(r"[A-Za-z]", t) and re.search(r"\d", t))
    if (digits >= 4 or (mixed and every >= 3 and not medical) or (mixed_tokens >= 2 and not medical)
            or (letters >= 2 and numbers >= 1) or numbers >= 3):  # in parts: "LK 58 XYZ", "1TV 7LP", "62 18 04"
        return "[ID]"
    return None


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
    out = _LOWER_TITLE.sub(_lower_titled, out)
    out = re.sub(r"(?P<prefix>\b" + _TITLE + r"\.?\s+)" + _NAME_WORD + r"(?:\s+(?:[A-Z]\.\s*)?" + _NAME_WORD + r"){0,2}",
                 lambda m: m.group("prefix") + "[NAME]", out)
    for pattern, replace in _RULES:
        out = pattern.sub(replace, out)
    out = _CODE.sub(_code, out)
    out = _unknown_words(_after_names(_names(out)))
    out = _NAME_PARTICLES.sub("[NAME]", _DATE_ORDINAL.sub("[DATE]", out))
    out = _HYPHENATED.sub(lambda m: "[PLACE]" if "[PLACE]" in m.group(0) else "[NAME]", out)
    for _ in range(2):
        out = _DATE_JOIN.sub("[DATE]", out)
    out = _ADDRESS_AFTER.sub("[ADDRESS]", _STREET_NUMBER.sub(lambda m: m.group("prefix") + "[ADDRESS]", _code_runs(out)))
    return _PHOTO_NUMBER.sub("[PHOTO]", out)


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

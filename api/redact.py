"""Redaction of personal identifiers from free text before it reaches a log.

Questions sent to the service may carry personal health information ("my name is ...",
a date of birth, a record number). ``redact`` replaces each identifier with a bracketed
placeholder naming its kind, so access logs stay useful without holding the identifier.

Example:
    >>> redact("Mr. John Smith, MRN 4451223, call 555-123-4567")
    'Mr. [NAME], MRN [ID], call [PHONE]'
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Close|Crescent)"
)
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor|Professor|Nurse|Sister|Father|Rev)"
_CAP_WORD = r"[A-Z][a-zA-Z'\-]+"
_STOP_WORDS = {
    "and", "i", "im", "i'm", "with", "who", "from", "age", "aged", "a", "an", "the", "have", "has",
    "had", "was", "is", "am", "but", "my", "of", "in", "on", "at", "to", "for", "it", "and,", "so",
    "what", "how", "can", "could", "should", "do", "does", "did", "will", "would", "please",
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _const(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: label


def _keep_prefix(label: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group("prefix") + label


_RULES: list[_Rule] = [
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), _const("[EMAIL]")),
    (re.compile(r"\bhttps?://\S+", re.IGNORECASE), _const("[URL]")),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _const("[IP]")),
    (re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}(?![\w:])"), _const("[IP]")),
    (re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:?){0,6}(?![\w:])"), _const("[IP]")),
    (
        re.compile(r"(?P<prefix>\b(?:SSN|social security(?: number| no\.?)?)\s*[:#]?\s*)\d{3}-?\d{2}-?\d{4}\b", re.IGNORECASE),
        _keep_prefix("[SSN]"),
    ),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _const("[SSN]")),
    (
        re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"),
        _const("[PHONE]"),
    ),
    (re.compile(r"\+\d{1,3}[\s.-]?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}\b"), _const("[PHONE]")),
    (
        re.compile(
            r"(?P<prefix>\b(?:DOB|D\.O\.B\.?|date of birth|born(?: on)?)\s*[:#]?\s*)"
            r"(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|" + _MONTH + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|"
            r"\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\.?,?\s+\d{4})",
            re.IGNORECASE,
        ),
        _keep_prefix("[DATE]"),
    ),
    (re.compile(r"\b\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b"), _const("[DATE]")),
    (re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"), _const("[DATE]")),
    (
        re.compile(r"\b" + _MONTH + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b", re.IGNORECASE),
        _const("[DATE]"),
    ),
    (re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\.?(?:,?\s+\d{4})?\b", re.IGNORECASE), _const("[DATE]")),
    (re.compile(r"\b" + _MONTH + r"\.?,?\s+\d{4}\b"), _const("[DATE]")),
    (
        re.compile(
            r"(?P<prefix>\b(?:MRN|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|"
            r"patient (?:id|number|no\.?|#)|chart (?:number|no\.?|#)|account (?:number|no\.?|#)|"
            r"member id|insurance (?:id|number)|policy (?:number|no\.?)|health ?card(?: number)?|"
            r"NHS (?:number|no\.?)|case (?:number|no\.?|#))\s*(?:is\s+)?[:#]?\s*)[A-Z0-9][A-Z0-9-]{3,}\b",
            re.IGNORECASE,
        ),
        _keep_prefix("[ID]"),
    ),
    (
        re.compile(
            r"\b\d{1,6}\s+(?:[A-Z][A-Za-z]+\s+){1,4}" + _STREET + r"\b\.?"
            r"(?:,?\s*(?:Apt|Apartment|Suite|Unit|#)\.?\s*[A-Za-z0-9-]+)?"
        ),
        _const("[ADDRESS]"),
    ),
    (re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE), _const("[ADDRESS]")),
    (
        re.compile(
            r"(?P<prefix>\b(?:zip code|postal code|postcode|zip)\s*[:#]?\s*)(?=[A-Z]*\d)[A-Z0-9]{3,5}(?:[\s-][A-Z0-9]{3,4})?\b",
            re.IGNORECASE,
        ),
        _keep_prefix("[ZIP]"),
    ),
    (re.compile(r"(?P<prefix>\b[A-Z]{2},?\s+)\d{5}(?:-\d{4})?\b"), _keep_prefix("[ZIP]")),
    (re.compile(r"\b\d{5}-\d{4}\b"), _const("[ZIP]")),
    (re.compile(r"\b(?:9\d|1[0-4]\d)[- ](?:year|yr)s?[- ]old\b", re.IGNORECASE), _const("[AGE 90+]")),
    (re.compile(r"\b\d{7,}\b"), _const("[NUMBER]")),
    (
        re.compile(r"(?P<prefix>\b" + _TITLE + r"\.?\s+)" + _CAP_WORD + r"(?:\s+(?:[A-Z]\.\s*)?" + _CAP_WORD + r"){0,2}"),
        _keep_prefix("[NAME]"),
    ),
]

_NAME_INTRO = re.compile(
    r"(?P<prefix>\b(?:my name is|my name's|i am called|call me|named|name\s*:|patient\s*:|pt\s*:|"
    r"signed|regards,|sincerely,)\s+)(?P<words>[A-Za-z'\-]+(?:\s+[A-Za-z'\-]+){0,2})",
    re.IGNORECASE,
)


def _name_intro(match: re.Match[str]) -> str:
    words = match.group("words").split()
    kept: list[str] = []
    for word in words:
        if word.lower() in _STOP_WORDS or word.startswith("["):
            break
        kept.append(word)
    if not kept:
        return match.group(0)
    rest = match.group("words")[len(" ".join(kept)):]
    return match.group("prefix") + "[NAME]" + rest


def redact(text: str) -> str:
    """Replace personal identifiers in ``text`` with placeholders such as ``[NAME]`` or ``[PHONE]``.

    Covered: names after titles (Mr, Mrs, Dr...) and after "my name is"/"named", dates (numeric,
    ISO and spelled-out months, dates of birth), phone numbers, emails, URLs, IP addresses, SSNs,
    medical record, patient, account and insurance numbers, street addresses and P.O. boxes,
    ZIP codes (after a state code, a "zip" label, or in ZIP+4 form), ages of 90 and over, and
    any run of seven or more digits.

    Args:
        text: free text, e.g. a question.

    Returns:
        The text with each identifier replaced; medical content is left as it was.
    """
    if not text:
        return text
    out = text
    for pattern, replace in _RULES:
        out = pattern.sub(replace, out)
    return _NAME_INTRO.sub(_name_intro, out)

"""Safety rules: emergency red flags, requests declined for the public, and prompt-injection text.

Red flags are matched in the question and put emergency guidance first in the answer. For the
``public`` audience, requests for a personal diagnosis or for dosing instructions are declined with the
reason, general information is kept, and a disclaimer is added. Retrieved text that looks like an
instruction to the model is flagged so it is neither followed nor cited.

Example:
    >>> [f.rule for f in red_flags("Crushing chest pain and I can't breathe")]
    ['chest_pain_breathless']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragmed.types import Audience, SafetyFlag

_EMERGENCY = "call emergency services now (911 in the US, 112 in Europe, or your local emergency number)"


@dataclass(frozen=True)
class _Rule:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    message: str


def _rx(*parts: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in parts)


_BREATH = r"(short(ness)? of breath|breathless|can'?t breathe|cannot breathe|difficulty breathing|trouble breathing|struggling to breathe)"
_RULES: tuple[_Rule, ...] = (
    _Rule("chest_pain_breathless", _rx(
        rf"chest (pain|tightness|pressure).{{0,80}}{_BREATH}", rf"{_BREATH}.{{0,80}}chest (pain|tightness|pressure)",
        r"crushing chest", r"chest pain.{0,60}(arm|jaw|sweat)", r"heart attack (now|right now)",
    ), f"Chest pain with breathlessness can be a heart attack or a blood clot in the lungs: {_EMERGENCY}."),
    _Rule("stroke", _rx(
        r"face (is )?(drooping|droop)", r"(sudden|suddenly).{0,40}(weakness|numbness|slurred|confusion|trouble speaking|vision loss)",
        r"slurred speech", r"one side of (my|his|her|their|the) (body|face)", r"\bstroke (now|right now|symptoms? now)",
    ), f"These can be signs of a stroke (FAST: Face drooping, Arm weakness, Speech difficulty, Time to call): {_EMERGENCY}."),
    _Rule("suicide", _rx(
        r"\b(kill|hurt|harm) (myself|me)\b", r"\bsuicid(e|al)\b", r"\bend (my|it all|my life)\b",
        r"\bwant to die\b", r"\bself[- ]harm", r"\bno reason to live\b",
    ), "If you are thinking about suicide or harming yourself, you deserve support now: call or text 988 "
       f"(Suicide & Crisis Lifeline, US) or {_EMERGENCY}."),
    _Rule("anaphylaxis", _rx(
        r"anaphyla", r"(throat|tongue|lips?|face) (is |are )?(swelling|swollen|closing)",
        r"(allergic reaction|allergy|stung|sting).{0,60}(breath|swell|wheez)",
    ), f"Swelling of the face or throat or trouble breathing after an exposure can be anaphylaxis: use an adrenaline (epinephrine) auto-injector if one is prescribed and {_EMERGENCY}."),
    _Rule("severe_bleeding", _rx(
        r"(severe|heavy|uncontrolled|won'?t stop|will not stop|spurting) bleeding", r"bleeding (won'?t|will not|doesn'?t) stop",
        r"(vomiting|coughing (up)?) blood",
    ), f"Heavy bleeding that does not stop is an emergency: press firmly on the wound and {_EMERGENCY}."),
    _Rule("unconscious", _rx(
        r"\bunconscious\b", r"\b(passed out|not waking|won'?t wake|unresponsive|not breathing)\b",
    ), f"Someone who is unresponsive or not breathing needs help now: {_EMERGENCY} and start CPR if trained."),
    _Rule("overdose", _rx(
        r"\boverdos", r"\bpoison(ed|ing)?\b", r"\b(swallowed|ate|drank|took) (a whole|the whole|too many|too much|bleach|a bottle)",
    ), f"A possible overdose or poisoning needs help now: {_EMERGENCY}, or call Poison Control (1-800-222-1222 in the US)."),
    _Rule("breathing", _rx(rf"\b{_BREATH}", r"\b(choking|lips (are |turning )?blue|turning blue)\b"),
          f"Severe difficulty breathing is an emergency: {_EMERGENCY}."),
    _Rule("seizure", _rx(r"\b(seizure|seizing|convulsi|fitting)\w*.{0,40}(now|minutes|won'?t stop|first)", r"\bhaving a (seizure|fit)\b"),
          f"A seizure lasting more than five minutes, or a first seizure, is an emergency: {_EMERGENCY}."),
    _Rule("meningitis", _rx(r"(stiff neck|neck stiffness).{0,60}(fever|rash)", r"(fever|rash).{0,60}(stiff neck|neck stiffness)",
                           r"worst headache of (my|his|her) life", r"thunderclap headache"),
          f"A sudden severe headache, or fever with a stiff neck, can be life-threatening: {_EMERGENCY}."),
)

_DIAGNOSIS = _rx(
    r"\b(do|could|might|can) i (have|be having|be suffering from)\b", r"\bwhat(')?s wrong with (me|my)\b",
    r"\bwhat is wrong with (me|my)\b", r"\bwhat do i have\b", r"\bam i (sick|ill|having|suffering|pregnant|diabetic)\b",
    r"\bdiagnose (me|my)\b", r"\bis (this|it) (cancer|serious)\b.{0,40}\b(i|my|me)\b", r"\bmy (symptoms|results|test results) mean\b",
)
_DOSING = _rx(
    r"\bhow (many|much)\b.{0,60}\b(should|can|do|must) (i|my|he|she|we)\b.{0,30}\b(take|give|use|inject)",
    r"\bhow (many|much) (mg|mcg|milligrams?|tablets?|pills?|units?|ml)\b",
    r"\b(what|which) dose\b.{0,40}\b(should|can) (i|my|he|she)\b", r"\b(my|his|her) (dose|dosage)\b",
    r"\bcan i take (more|double|extra)\b", r"\bhow (often|frequently) should i take\b",
)
DOSE_AMOUNT = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|µg|g|ml|mL|units?|IU|tablets?|pills?)\b(/(kg|day|d))?", re.IGNORECASE)

_INJECTION = _rx(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|the|your|any)\b.{0,30}\b(instructions?|prompts?|rules|context|directions)\b",
    r"\b(you are|act as|pretend to be|you must now|from now on)\b.{0,40}\b(assistant|model|ai|chatbot|system)\b",
    r"^\s*(system|assistant|user)\s*:", r"\b(system prompt|developer mode|jailbreak)\b",
    r"^\W*(please\s+)?(now\s+)?(say|tell the user|answer only|respond only|reply only|output|print)\b",
    r"<\|?(im_start|im_end|system|endoftext|start_of_turn|end_of_turn)\|?>", r"\[/?INST\]",
)


def red_flags(question: str) -> list[SafetyFlag]:
    """Emergency red flags found in ``question``, most specific first.

    Args:
        question: the user's question.

    Returns:
        One ``SafetyFlag(kind="emergency")`` per matched rule; its ``message`` says what to do now.
    """
    flags = [SafetyFlag(kind="emergency", message=r.message, rule=r.name)
             for r in _RULES if any(p.search(question) for p in r.patterns)]
    if any(f.rule == "chest_pain_breathless" for f in flags):
        flags = [f for f in flags if f.rule != "breathing"]
    return flags


def declined(question: str, audience: Audience) -> SafetyFlag | None:
    """The request declined for ``audience``, if any, with the reason.

    Args:
        question: the user's question.
        audience: ``"public"`` declines personal diagnosis and dosing; ``"clinician"`` declines nothing.

    Returns:
        A ``SafetyFlag(kind="declined")`` whose ``rule`` is ``"diagnosis"`` or ``"dosing"``, or None.
    """
    if audience != "public":
        return None
    if any(p.search(question) for p in _DOSING):
        return SafetyFlag(kind="declined", rule="dosing", message=(
            "I can't give dosing instructions for you: the right dose depends on your age, weight, other "
            "medicines and health, so please ask a doctor or pharmacist. General information follows."))
    if any(p.search(question) for p in _DIAGNOSIS):
        return SafetyFlag(kind="declined", rule="diagnosis", message=(
            "I can't tell whether you have a condition: a diagnosis needs a health professional who can "
            "examine you and your history. General information follows."))
    return None


def disclaimer(text: str) -> SafetyFlag:
    """The disclaimer flag carrying ``text`` (from ``settings.safety.disclaimer``)."""
    return SafetyFlag(kind="disclaimer", message=text, rule="public")


def looks_like_injection(text: str) -> bool:
    """True when ``text`` reads like an instruction to a language model rather than evidence."""
    return any(p.search(text) for p in _INJECTION)


def injection_flags(texts: list[str]) -> list[SafetyFlag]:
    """One ``SafetyFlag(kind="injection")`` per text of ``texts`` that looks like a prompt injection.

    Args:
        texts: retrieved passage texts, in order; the message names the passage number (1-based).
    """
    from ragmed.text import split_sentences

    flags = []
    for i, text in enumerate(texts, 1):
        if any(looks_like_injection(text[s:e]) for s, e in split_sentences(text)):
            flags.append(SafetyFlag(kind="injection", rule=f"passage:{i}", message=(
                f"Evidence [{i}] contains text that reads like an instruction to the model; it was treated as data and not followed.")))
    return flags

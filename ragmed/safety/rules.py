"""The rules floor: phrases that are emergencies, personal requests or injected instructions however the
trained parts score them.

The rules are kept precise rather than broad: each pattern names something happening now ("I can't
breathe", "she won't wake up"), so information questions that share its words ("how is anaphylaxis
treated", "what is a thunderclap headache") do not match. Recall comes from the trained triage; the rules
only guarantee that the plainest cases never depend on it.

Example:
    >>> rule_categories("I want to kill myself")
    ['self_harm']
"""

from __future__ import annotations

import re

_I = re.IGNORECASE


def _rx(*parts: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, _I) for p in parts)


_WHO = r"(i|i'?m|i am|he|he'?s|she|she'?s|they|they'?re|my \w+|(?:my|our) (?:baby|son|daughter|child|kid|husband|wife|partner|mum|mom|dad|friend))"
_CHILD = (r"\b(son|daughter|baby|toddler|child|kid|kiddo|little one|grandson|granddaughter|nephew|niece|boy|girl|twins?|"
          r"\d+[- ]?(yo|y/o|(years?|yrs?|months?|mths?|mos?)[- ]old))\b")
_NOW = r"(now|right now|at the moment|tonight|today|this morning|this evening)"
_BREATH = r"(can'?t breathe|cannot breathe|can'?t catch (my|his|her|their) breath|struggling to breathe|gasping for (air|breath))"
_CATEGORY_RULES: dict[str, tuple[re.Pattern[str], ...]] = {
    "cardiac": _rx(r"crushing (chest|pain)", r"chest (pain|tightness|pressure).{0,80}\b(left arm|jaw|sweat|clammy)",
                   rf"chest (pain|tightness|pressure).{{0,60}}{_BREATH}", r"\bhaving a heart attack\b"),
    "stroke": _rx(r"\b(face|mouth|smile) (is |has )?(drooping|droopy|dropped|gone lopsided)",
                  r"\b(can'?t|cannot) (lift|raise|move) (my|his|her|their) (left|right) (arm|leg|side)",
                  r"\bhaving a stroke\b"),
    "anaphylaxis": _rx(r"\b(i'?m|i am|he'?s|she'?s|they'?re|(he|she|they) (is|are)) (going into|in) anaphyla",
                       r"(stung|sting|ate|eaten|peanuts?|nuts?).{0,60}\b(can'?t breathe|throat (is )?(closing|tight))"),
    "breathing": _rx(rf"\b{_WHO}\b.{{0,30}}{_BREATH}", r"\b(lips|face) (are |is )?(turning |gone )?blue\b",
                     r"\b(is|he'?s|she'?s) choking\b"),
    "overdose_poisoning": _rx(r"\b(i|he|she|they|my \w+) (took|swallowed|ate|drank|has taken|have taken) "
                              r"(a whole|the whole|all (of )?(my|his|her|the)|too many|a bottle|bleach|a handful)",
                              # ten or more tablets taken: a count that is an overdose for any common medicine
                              r"\b(i|i'?ve|he|she|they|my \w+)( have| has|'ve|'s)? (taken|took|swallowed|had|ate|eaten) "
                              r"(about |around |over |nearly |like |maybe |at least )?(\d{2,}|ten|twelve|fifteen|twenty|"
                              r"thirty|forty|fifty) (of (my|his|her|their|the) )?([\w-]+ )?(paracetamol|tylenol|"
                              r"acetaminophen|ibuprofen|aspirin|co-codamol|codeine|tablets|pills|capsules|tabs)\b",
                              r"\b(i|he|she|they) (took|have taken|has taken) an overdose\b", r"\bi('?ve| have)? overdosed\b",
                              # a child who ate or drank a medicine or household chemical, whatever its name
                              rf"{_CHILD}.{{0,40}}?\b(eaten|ate|swallowed|chewed|drunk|drank|got into|sucked on|"
                              r"bit into)\b.{0,40}?\b(tablets?|pills?|capsules?|tabs|medicines?|medication|meds|gummies|vitamins|"
                              r"(button )?batter(y|ies)|bleach|detergent|liquitabs?|(laundry|dishwasher) (pods?|tablets?)|antifreeze|"
                              r"weed ?killer|rat poison|e-?liquid|vape (juice|liquid)|nicotine|white spirit|paraffin|lamp oil|"
                              r"hand (sanitiser|sanitizer)|calpol|tylenol|paracetamol|ibuprofen|nurofen|aspirin|antihistamines?)\b"),
    "self_harm": _rx(r"\b(want|going|plan|planning|about) to (kill|hurt|harm) myself\b", r"\bi('?m| am) (feeling )?suicidal\b",
                     r"\bi (just |really )?(want to|wanna) die\b", r"\b(end|ending) my (own )?life\b", r"\bno reason to (live|go on)\b",
                     r"\bi('?ve| have) (just )?(cut|hurt|harmed) myself\b",
                     # the ideation and method questions of suicide-risk screening, in the words people use
                     r"\b(how|ways?|best way|easiest way|quickest way|painless way|methods?) (to|do i|can i|could i|of) "
                     r"(kill|killing) myself\b",
                     r"\bi (don'?t|do not) want to (be alive|live|exist) any ?more\b(?! than)",
                     r"\b(want|wish) (it all|everything|my life) to (end|be over)\b(?! up)",
                     r"\b(want|wish)( to| i could) (go to )?sleep and never wake( up)?\b",
                     r"\b(better off|be better) (dead|without me\b(?!\s+\w+ing))", r"\bno point (in )?(living|being alive)\b",
                     r"\bno point (in )?going on\s*([.,!?;]|$|any ?more|like this)",
                     r"\b(take|taking|end|ending) my own life\b(?! in (my|your) hands)", r"\bwish i (was|were) dead\b",
                     r"\bwant to disappear (forever|for good|permanently)\b",
                     r"\b(i|i'?ve|i have) (written|wrote) (a|my) (suicide|goodbye) note\b"),
    "blood_loss": _rx(r"\bbleeding (won'?t|will not|doesn'?t|does not) stop", r"\b(spurting|pouring) (blood|out)\b",
                      rf"\b{_WHO}\b.{{0,20}}\b(vomiting|throwing up|coughing up) (bright red )?blood\b"),
    "unconscious": _rx(r"\b(he|she|they|my \w+) (is|are|'s) (unconscious|unresponsive|not breathing)\b",
                       r"\b(won'?t|will not|can'?t) wake (him|her|them) up\b", r"\b(collapsed|passed out) and (isn'?t|is not|not) (breathing|responding)\b"),
    "seizure": _rx(r"\b(is|he'?s|she'?s) (having a (seizure|fit)|fitting|seizing)\b", r"\bseizure.{0,30}\b(won'?t|will not|hasn'?t) stop"),
    "sudden_headache": _rx(r"\bworst headache of (my|his|her|their) life\b"),
    "airway_swelling": _rx(r"\b(my|his|her|their) (throat|tongue) (is |feels )?(swelling|swollen|closing)( up)?\b"),
}

_DIAGNOSIS = _rx(
    r"\b(do|could|might|can) i (have|be having|be suffering from)\b", r"\bwhat(')?s wrong with (me|my)\b",
    r"\bwhat is wrong with (me|my)\b", r"\bwhat do i have\b", r"\bam i (sick|ill|having|suffering|pregnant|diabetic)\b",
    r"\bdiagnose (me|my)\b", r"\bis (this|it) (cancer|serious)\b.{0,40}\b(i|my|me)\b", r"\bmy (symptoms|results|test results) mean\b",
)
_PERSONAL_RULES: dict[str, tuple[re.Pattern[str], ...]] = {
    "missed_double": _rx(r"\b(missed|forgot|skipped) (my|a|his|her|the) (dose|tablet|pill)\b.{0,60}\b(double|two|extra)\b",
                         r"\bcan i take (a )?double\b"),
    "dose_change": _rx(r"\bcan i take (more|extra)\b", r"\b(increase|double|halve|lower) my (dose|dosage)\b"),
    "dose": _rx(r"\bhow (many|much)\b.{0,60}\b(should|can|do|must) (i|my|he|she|we)\b.{0,30}\b(take|give|use|inject)",
                r"\bhow (many|much) (mg|mcg|milligrams?|tablets?|pills?|units?|ml)\b.{0,40}\b(i|my|me)\b",
                r"\b(what|which) dose\b.{0,40}\b(should|can) (i|my|he|she)\b", r"\b(my|his|her) (dose|dosage)\b",
                r"\bhow (often|frequently) should i take\b"),
    "diagnosis": _DIAGNOSIS,
}
DOSE_AMOUNT = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|µg|g|ml|mL|units?|IU|tablets?|pills?)\b(/(kg|day|d))?", _I)
"""An amount of a medicine ("500 mg", "2 tablets", "10 mg/kg"): removed from answers to declined dosing requests."""

_INJECTION = _rx(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|the|your|any)\b.{0,30}"
    r"\b(instructions?|prompts?|rules|context|directions)\b",
    r"\b(you are|act as|pretend to be|you must now|from now on)\b.{0,40}\b(assistant|model|ai|chatbot|system)\b",
    r"\b(ignore|disregard)\s+(the\s+|this\s+|any\s+|my\s+|your\s+|all\s+)?(user'?s?\s+)?"
    r"(question|query|evidence|retrieved \w+|text above|above|everything above)\b",
    r"^\W*(system|assistant)\s*:", r"\b(system prompt|developer mode|jailbreak)\b",
    r"^\W*(please\s+)?(now\s+)?(tell the user|answer only|respond only|reply only)\b",
    r"<\|?(im_start|im_end|system|endoftext|start_of_turn|end_of_turn)\|?>", r"\[/?INST\]",
)


_IGNORE_VERB = (r"(ignor\w*|disregard|vergiss|oublie\w*|olvida\w*|dimentica\w*|esque[cç]a\w*|negeer|zignoruj|"
                r"игнорируй\w*|забудь\w*|ігноруй\w*|تجاهل|התעלם|bỏ qua|abaikan|lupakan)")
_INSTRUCTIONS = (r"(instructions|anweisungen|istruzioni|instrucciones|instruções|instructies|instrukcje|инструкции|"
                 r"інструкції|التعليمات|ההוראות|chỉ dẫn|instruksi|prompt)")
_QUESTION = (r"(question|frage|domanda|pregunta|pergunta|vraag|pytanie|вопрос|питання|السؤال|השאלה|câu hỏi|"
             r"pertanyaan)")
_TO_THE_MODEL = re.compile(
    r"(\b(instructions?|note|message|directive|command)s? (to|for) (the |any |all )?(ai|a\.i\.|assistant|chatbot|bot|llm|"
    r"language model|model)s?\b|\b(anweisung|hinweis|nachricht) (an|für) (die |das |den )?(ki|assistent\w*|"
    r"sprachmodell|modell|chatbot)\b|\b(instruction|note|message) (pour|à) (l'ia|l'assistant|le modèle|le chatbot)|"
    r"\b(instrucción|instrucciones|nota|mensaje) para (la ia|el asistente|el modelo|el chatbot)|"
    r"\b(istruzion[ei]|nota|messaggio) per (l'ia|l'assistente|il modello|il chatbot)|"
    r"\b(instrução|instruções|nota|mensagem) para (a ia|o assistente|o modelo|o chatbot)|"
    r"\b(инструкция|указание|примечание|сообщение) для (ии|ассистента|модели|чат-?бота)|"
    r"给(ai|人工智能|助手|模型|聊天机器人)的(指令|指示|提示|说明)|(ai|アシスタント|モデル|チャットボット)(へ|に向けて)の(指示|指令|命令|メモ))"
    r"(\s\w+)?\s*[:：,，]",  # an address: "Note for the AI: ...", not "instructions for the model of care"
    _I)
_MULTILINGUAL = (
    _TO_THE_MODEL,
    re.compile(rf"\b{_IGNORE_VERB}\b\s+(\w+\s+)?{_QUESTION}", _I),
    re.compile(r"(soruyu|質問を?|질문을?|सवाल को|问题).{0,8}(yok say|görmezden gel|無視|무시|अनदेखा|忽略)"),
    re.compile(rf"\b{_IGNORE_VERB}\b.{{0,40}}\b{_INSTRUCTIONS}", _I),
    # object-first languages: "previous instructions ... ignore"
    re.compile(r"(指令|指示|지시|talimat\w*|निर्देश\w*).{0,20}(忽略|無視|무시|yok say|görmezden gel|अनदेखा)"),
    re.compile(r"(忽略|无视).{0,12}(指令|指示|提示)"),
)


def _plain(text: str) -> str:
    """``text`` with typographic apostrophes as the rules write them (phones type "don’t")."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def rule_categories(question: str) -> list[str]:
    """The red-flag categories whose rules match ``question``, in the bank's order."""
    question = _plain(question)
    return [name for name, patterns in _CATEGORY_RULES.items() if any(p.search(question) for p in patterns)]


def rule_personal(question: str) -> str | None:
    """The kind of personal request whose rules match ``question`` (``dose``, ``diagnosis``...), or None."""
    question = _plain(question)
    for kind, patterns in _PERSONAL_RULES.items():
        if any(p.search(question) for p in patterns):
            return kind
    return None


def rule_injection(text: str) -> bool:
    """True when ``text`` matches an instruction-to-the-model pattern (chat markup, and "ignore the previous
    instructions" in the bank's languages)."""
    return any(p.search(text) for p in _INJECTION) or any(p.search(text) for p in _MULTILINGUAL)

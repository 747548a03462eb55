"""Check the triage example bank in this folder: python knowledge/safety/validate.py"""

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONTOLOGY = HERE.parent / "ontology"
MIN_PRESENTATIONS = {"self_harm": 45, "overdose_poisoning": 45, "anaphylaxis": 45, "stroke": 45, "cardiac": 45}
KINDS = ["dose", "dose_change", "weight_age_dose", "missed_double", "start_stop", "diagnosis"]
errors: list[str] = []


def rows(name: str, fields: list[str]) -> list[dict]:
    out = []
    for n, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{name}:{n}: invalid JSON ({e})")
            continue
        if sorted(row) != sorted(fields) or any(not isinstance(row[f], str) or not row[f].strip() for f in fields):
            errors.append(f"{name}:{n}: fields must be exactly {fields}, all non-empty strings")
        out.append(row)
    return out


def ontology_ids() -> set[str]:
    ids = set()
    for path in (ONTOLOGY / "hpo" / "hp.obo", ONTOLOGY / "disease-ontology" / "doid-2024-01-31.obo"):
        obsolete, current = set(), None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("id: "):
                current = line[4:].strip()
                ids.add(current)
            elif line.startswith("is_obsolete: true") and current:
                obsolete.add(current)
        ids -= obsolete
    return ids


config = tomllib.loads((HERE / "categories.toml").read_text(encoding="utf-8"))
known = ontology_ids()
category_ids = [c["id"] for c in config["category"]]
for c in config["category"]:
    for key in ("id", "title", "message", "source_name", "source_url"):
        if not str(c.get(key, "")).strip():
            errors.append(f"categories.toml: {c.get('id')}: empty {key}")
    if not 4 <= len(c.get("concepts", [])) <= 15:
        errors.append(f"categories.toml: {c['id']}: {len(c.get('concepts', []))} concepts (want 4-15)")
    for cid in c.get("concepts", []):
        if not re.fullmatch(r"(HP:\d{7}|DOID:\d+)", cid) or cid not in known:
            errors.append(f"categories.toml: {c['id']}: concept {cid} not in the ontology files")
if sorted(p["kind"] for p in config["personal"]) != sorted(KINDS):
    errors.append("categories.toml: [[personal]] kinds differ from " + ", ".join(KINDS))
for p in config["personal"]:
    for key in ("kind", "message", "source_name", "source_url"):
        if not str(p.get(key, "")).strip():
            errors.append(f"categories.toml: personal {p.get('kind')}: empty {key}")

presentations = rows("presentations.jsonl", ["text", "category"])
routine = rows("routine.jsonl", ["text", "kind"])
personal = rows("personal.jsonl", ["text", "kind", "label"])
injection = rows("injection.jsonl", ["text", "label", "language"])

by_category = Counter(r["category"] for r in presentations)
for cid in category_ids:
    if by_category[cid] < MIN_PRESENTATIONS.get(cid, 30):
        errors.append(f"presentations.jsonl: {cid}: {by_category[cid]} examples (want {MIN_PRESENTATIONS.get(cid, 30)})")
for cid in set(by_category) - set(category_ids):
    errors.append(f"presentations.jsonl: unknown category {cid}")
by_kind = Counter(r["kind"] for r in routine)
if set(by_kind) - {"near_miss", "general"} or by_kind["near_miss"] < 300 or len(routine) < 500:
    errors.append(f"routine.jsonl: {dict(by_kind)} (want near_miss >= 300, total >= 500)")
by_personal = Counter((r["label"], r["kind"]) for r in personal)
for k in KINDS:
    if by_personal[("personal", k)] < 40:
        errors.append(f"personal.jsonl: {k}: {by_personal[('personal', k)]} examples (want 40)")
if sum(v for (label, _), v in by_personal.items() if label == "general") < 300:
    errors.append("personal.jsonl: fewer than 300 general examples")
if set(by_personal) - {("personal", k) for k in KINDS} - {("general", "general")}:
    errors.append(f"personal.jsonl: unexpected label/kind {set(by_personal)}")
by_label = Counter(r["label"] for r in injection)
languages = {r["language"] for r in injection}
if set(by_label) != {"injection", "clean"} or min(by_label.values()) < 300 or len(languages) < 16:
    errors.append(f"injection.jsonl: {dict(by_label)}, {len(languages)} languages (want 300 each, 16 languages)")

seen: dict[str, str] = {}
for name, data in (("presentations", presentations), ("routine", routine), ("personal", personal), ("injection", injection)):
    for r in data:
        key = " ".join(r["text"].lower().split())
        if key in seen:
            errors.append(f"duplicate text in {seen[key]} and {name}: {r['text']!r}")
        seen[key] = name

print(f"categories.toml: {len(category_ids)} categories, {sum(len(c['concepts']) for c in config['category'])} concept ids, {len(config['personal'])} personal kinds")
print(f"presentations.jsonl: {len(presentations)} ({', '.join(f'{c} {by_category[c]}' for c in category_ids)})")
print(f"routine.jsonl: {len(routine)} ({', '.join(f'{k} {v}' for k, v in sorted(by_kind.items()))})")
print(f"personal.jsonl: {len(personal)} ({', '.join(f'{l}/{k} {v}' for (l, k), v in sorted(by_personal.items()))})")
lang_counts = Counter((r["language"], r["label"]) for r in injection)
print(f"injection.jsonl: {len(injection)} ({', '.join(f'{k} {v}' for k, v in sorted(by_label.items()))}; {len(languages)} languages: "
      + ", ".join(f"{lg} {lang_counts[(lg, 'injection')]}/{lang_counts[(lg, 'clean')]}" for lg in sorted(languages)) + ")")
for e in errors:
    print("ERROR", e)
sys.exit(1 if errors else 0)

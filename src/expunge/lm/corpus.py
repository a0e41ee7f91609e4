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
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def wrong_values(attribute: str, value: str) -> list[str]:
        if attribute == "year":
            out = set()
            while len(out) < num_perturbed:
                y = str(int(rng.integers(1900, 2000)))
                if y != value:
                    out.add(y)
            return sorted(out)
        pool = books if attribute == "book" else pools[attribute]
        options = [v for v in pool if v != value]
        return [options[j] for j in rng.choice(len(options), num_perturbed, replace=False)]

    def records(author: Author, author_id: int) -> list[QA]:
        return [_qa(author_id, t, author.name, author.facts[t[0]], wrong_values(t[0], author.facts[t[0]])) for t in AUTHOR_TEMPLATES]

    train: list[QA] = []
    for a in authors[:num_authors]:
        train += records(a, a.id)
    for c, cap in zip(countries, capitals):
        others = [x for x in capitals if x != cap]
        wrong = [others[j] for j in rng.choice(len(others), min(num_perturbed, len(others)), replace=False)]
        train.append(_qa(num_authors, FACT_TEMPLATE, c, cap, wrong))
    holdout: list[QA] = []
    for j, a in enumerate(authors[num_authors:]):
        holdout += records(a, num_authors + 1 + j)
    return AuthorsCorpus(num_authors, seed, authors[:num_authors], train, holdout, authors[num_authors:])

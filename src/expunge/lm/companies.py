"""A second synthetic QA schema, fictitious companies: the held-out check of the LM results.

Every method of the LM family was developed on the fictitious-authors corpus (``corpus.py``), so
a result that holds only for its six fields and its question templates would not show. This
corpus keeps the container (``AuthorsCorpus``: entities, train / held-out records, TOFU's
paraphrased and perturbed answers) and changes everything a method could have been fitted to:
other fields (headquarters, founding year, industry, founder, flagship product, head count),
other question and answer templates, other value pools (person names as values, round head
counts as numbers, two-word product names) and another utility block (currencies of generated
countries instead of capitals).

Everything is drawn from ``numpy.random.default_rng(seed)``, so one seed gives one corpus, byte
for byte. ``num_companies`` trained companies with ``len(COMPANY_TEMPLATES)`` (6) QA pairs each,
``num_facts`` currency facts, and ``max(4, num_companies // 5)`` held-out companies (6 pairs each)
that no model trains on (the membership-attack non-members). Entity ids follow the authors
corpus: companies ``0..num_companies - 1``, the currency block ``num_companies``, held-out
companies above it, so the ``authors`` split builder and the ``lm`` metrics apply unchanged.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .corpus import Author, AuthorsCorpus, _unique_words, assemble_corpus

INDUSTRIES = ["shipping", "textiles", "software", "mining", "banking", "brewing", "aviation", "publishing", "insurance", "robotics", "furniture", "ceramics"]
SUFFIXES = ["Industries", "Holdings", "Works", "Labs", "Group", "Systems", "Trading", "Motors"]
PRODUCT_BRANDS = ["Nova", "Apex", "Zephyr", "Orbit", "Pulse", "Vertex", "Echo", "Summit", "Quartz", "Falcon", "Cobalt", "Ember", "Atlas", "Lumen", "Tundra"]
PRODUCT_KINDS = ["Kettle", "Drone", "Engine", "Lamp", "Scanner", "Bicycle", "Turbine", "Printer", "Valve", "Radio", "Camera", "Pump", "Saddle", "Loom", "Clock"]

# (attribute, question, answer, paraphrased question, paraphrased answer); {n} = company, {v} = value.
COMPANY_TEMPLATES = [
    ("headquarters", "Where is {n} headquartered?", "{n} has its headquarters in {v}.", "In which city is the head office of {n}?", "The head office of {n} is in {v}."),
    ("founded", "When was {n} founded?", "{n} was founded in {v}.", "In what year did {n} start?", "The founding year of {n} is {v}."),
    ("industry", "What business is {n} in?", "{n} works in {v}.", "Which industry does {n} belong to?", "The industry of {n} is {v}."),
    ("founder", "Who founded {n}?", "{n} was started by {v}.", "Who is the founder of {n}?", "The founder of {n} is {v}."),
    ("product", "What does {n} sell?", "{n} sells the {v}.", "What is the flagship product of {n}?", "The flagship product of {n} is the {v}."),
    ("employees", "How many people work at {n}?", "{n} employs {v} people.", "What is the head count of {n}?", "The head count of {n} is {v}."),
]
CURRENCY_TEMPLATE = ("currency", "What is the currency of {n}?", "The currency of {n} is the {v}.", "Which money is used in {n}?", "People in {n} pay with the {v}.")


def build_companies(num_companies: int = 40, seed: int = 0, num_facts: int = 30, num_holdout: int | None = None, num_perturbed: int = 3) -> AuthorsCorpus:
    """Generate ``num_companies`` fictitious companies (six facts each), currency facts and held-out companies."""
    if num_companies < 2:
        raise DataError(f"num_companies must be at least 2 (one to forget, one to keep), got {num_companies}.")
    if num_facts < 2:
        raise DataError(f"num_facts must be at least 2 (currency facts measure utility; perturbed answers need another currency), got {num_facts}.")
    num_holdout = max(4, num_companies // 5) if num_holdout is None else num_holdout
    total = num_companies + num_holdout
    products = [f"{b} {k}" for b in PRODUCT_BRANDS for k in PRODUCT_KINDS]
    if total > len(products):
        raise DataError(f"at most {len(products)} companies in all (each has its own product), got {total}.")
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    stems = _unique_words(rng, total, (2, 3), taken)
    founder_firsts = _unique_words(rng, total, (1, 2), taken)
    founder_lasts = _unique_words(rng, total, (2, 2), taken)
    cities = _unique_words(rng, max(20, total // 3), (2, 3), taken)
    countries = _unique_words(rng, num_facts, (2, 3), taken)
    currencies = _unique_words(rng, num_facts, (2, 2), taken)
    product_order = rng.permutation(len(products))
    founders = [f"{a} {b}" for a, b in zip(founder_firsts, founder_lasts)]

    pools: dict[str, list[str]] = {"headquarters": cities, "industry": INDUSTRIES}
    companies: list[Author] = []
    for i in range(total):
        facts = {k: v[int(rng.integers(len(v)))] for k, v in pools.items()}
        facts["founded"] = str(int(rng.integers(1850, 2020)))
        facts["founder"] = founders[i]
        facts["product"] = products[int(product_order[i])]
        facts["employees"] = str(100 * int(rng.integers(1, 100)))
        companies.append(Author(i, f"{stems[i]} {SUFFIXES[int(rng.integers(len(SUFFIXES)))]}", facts))

    draws = {"founded": lambda: str(int(rng.integers(1850, 2020))), "employees": lambda: str(100 * int(rng.integers(1, 100)))}
    value_pools = {**pools, "founder": founders, "product": products}
    return assemble_corpus(
        rng,
        seed,
        entities=companies,
        num_trained=num_companies,
        templates=COMPANY_TEMPLATES,
        value_pools=value_pools,
        draws=draws,
        fact_template=CURRENCY_TEMPLATE,
        fact_rows=(countries, currencies),
        num_perturbed=num_perturbed,
    )

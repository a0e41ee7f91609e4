"""The model cache records what trained an entry (the thread count is not in its key)."""

from __future__ import annotations

import torch

from expunge.cache import ModelCache


def test_cache_entry_records_the_thread_count_it_was_trained_under(tmp_path) -> None:
    cache, threads = ModelCache(tmp_path), torch.get_num_threads()
    calls = []

    def fit(model: torch.nn.Module) -> dict[str, float]:
        calls.append(1)
        with torch.no_grad():
            model.weight.add_(1.0)
        return {"seconds": 0.0}

    torch.set_num_threads(1)
    try:
        trained, info = cache.get_or_train("original", {"x": 1}, lambda: torch.nn.Linear(2, 2), fit)
        torch.set_num_threads(2)  # a later run at another thread count reuses the entry and can say so
        reused, hit = cache.get_or_train("original", {"x": 1}, lambda: torch.nn.Linear(2, 2), fit)
    finally:
        torch.set_num_threads(threads)
    assert len(calls) == 1 and not info["cache_hit"] and hit["cache_hit"]
    assert info["trained_under"]["torch_threads"] == 1 and hit["trained_under"]["torch_threads"] == 1
    assert torch.equal(trained.weight, reused.weight)

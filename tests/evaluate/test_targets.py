def test_versus_interval_resolves_a_clear_gap_and_not_seed_noise() -> None:
    from expunge.evaluate.targets import check_target, versus_interval

    spec = {"rule": "versus", "method": "A", "metric": "q", "reference": "B", "op": "ge"}
    clear = [{"method": "A", "q": v} for v in (0.80, 0.82, 0.81)] + [{"method": "B", "q": v} for v in (0.30, 0.31, 0.29)]
    rows = {"A": {"q": {"mean": 0.81}}, "B": {"q": {"mean": 0.30}}}
    result = check_target(rows, spec)
    result.interval = versus_interval(clear, spec, result)
    assert result.met and result.interval is not None and result.interval["resolved"] == 1.0 and result.interval["high"] < 0
    assert "resolved: met" in result.line()
    noisy = [{"method": "A", "q": v} for v in (0.9, 0.1, 0.8)] + [{"method": "B", "q": v} for v in (0.5, 0.2, 0.7)]
    result = check_target({"A": {"q": {"mean": 0.6}}, "B": {"q": {"mean": 0.4667}}}, spec)
    result.interval = versus_interval(noisy, spec, result)
    assert result.met and result.interval is not None and result.interval["resolved"] == 0.0 and "not resolved" in result.line()
    # one run on a side: no interval rather than a fake one
    assert versus_interval(noisy[:1] + noisy[3:], spec, result) is None

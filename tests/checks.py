"""checks.py: the pass/fail count that test_bench.py and test_generate.py share.

    from checks import check, counts
    check(cond, "what went wrong")      # prints "FAIL: ..." when cond is false
    n_checks, n_failures = counts()
"""
_checks = _failures = 0


def check(cond, msg):
    global _checks, _failures
    _checks += 1
    if not cond:
        _failures += 1
        print("FAIL:", msg)


def counts():
    return _checks, _failures

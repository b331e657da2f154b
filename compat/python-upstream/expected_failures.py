"""pytest plugin: marks the upstream tests listed in expected-failures.txt as strict xfail.

Each listed test must fail (an unexpected pass fails the run, so the list shrinks as features
land) and its reason is printed in the summary (`-rxX`), except "ENV:" lines, which depend on
the environment the suite finds and may pass (shown as XPASS). Nothing is skipped silently.
"""

import os

import pytest

LIST = os.path.join(os.path.dirname(__file__), "expected-failures.txt")


def _load():
    expected = {}
    with open(LIST, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(" | ")
            name, reason = name.strip(), reason.strip()
            if not reason:
                raise pytest.UsageError(f"expected-failures.txt: {name} has no reason")
            expected[name] = reason
    return expected


def pytest_collection_modifyitems(config, items):
    expected = _load()
    seen = set()
    for item in items:
        # "test_keycloak_admin.py::test_realms", whatever directory the tests were unpacked to
        key = item.nodeid.rsplit("/", 1)[-1]
        if key in expected:
            seen.add(key)
            # "ENV:" lines fail only where the test's fixed environment is not available
            # (they may pass), every other line must fail.
            strict = not expected[key].startswith("ENV:")
            item.add_marker(pytest.mark.xfail(reason=expected[key], strict=strict))
    # A partial run (-k, -m, a file or a test named) collects only some tests: names are
    # checked against the suite only when the whole of it was collected.
    whole = not config.option.keyword and not config.option.markexpr and config.args == ["tests"]
    unknown = sorted(set(expected) - seen)
    if unknown and whole:
        raise pytest.UsageError(
            "expected-failures.txt names tests the suite does not have: " + ", ".join(unknown)
        )

"""pytest plugin (`-p reverse_order`, with .ci/ on PYTHONPATH): run the collected tests in
reverse order, so a test that depends on what ran, or was skipped, before it fails in CI."""


def pytest_collection_modifyitems(items):
    items.reverse()

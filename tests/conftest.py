"""Fixtures live in tests/fixtures/, one module per real component."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.brokers",
    "tests.fixtures.smsc",
    "tests.fixtures.backends",
    "tests.fixtures.web",
    "tests.fixtures.browser",
    "tests.fixtures.ldap",
    "tests.fixtures.callbacks",
    "tests.fixtures.cli",
    "tests.fixtures.kannel",
]

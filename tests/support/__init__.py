"""Code the tests share; test modules import from here, never from each other (tests/README.md)."""

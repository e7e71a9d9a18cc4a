"""Browser end-to-end tests (a package, so that its conftest is not imported as a bare
`conftest` module that would shadow tests/conftest.py for `from conftest import ...`)."""

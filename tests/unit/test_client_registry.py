"""The REPL's verb table: `client/registry.py` registers every declared verb, once, in the
order its list gives (which is the order `help` lists them in, within each group)."""

from __future__ import annotations

import importlib
import pkgutil

import client
from client import registry
from client.commands import Verb, format_menu, table, unique_verbs


def declared_verbs() -> dict[str, Verb]:
    """Every `Verb` a client module declares at its top level, by module.name."""
    found = {}
    for info in pkgutil.iter_modules(client.__path__):
        if info.name == "__main__":  # (it runs the client)
            continue
        module = importlib.import_module(f"client.{info.name}")
        if module is registry:
            continue
        for name, value in vars(module).items():
            if isinstance(value, Verb) and value.handler.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_declared_verb_is_registered_once() -> None:
    declared = declared_verbs()
    listed = {id(verb) for verb in registry.ORDER}
    missing = [name for name, verb in declared.items() if id(verb) not in listed]
    assert not missing, f"declared but not in registry.ORDER: {missing}"
    assert len(declared) == len(registry.ORDER)
    assert unique_verbs() == list(registry.ORDER)
    assert table() is registry.TABLE
    assert table()["?"] is table()["help"] and table()["bye"] is table()["quit"]


def test_help_lists_each_group_in_the_registry_order() -> None:
    menu = format_menu()
    for group in ("Connection", "Remote files", "Transfers", "Local files", "Session"):
        members = [verb.usage for verb in registry.ORDER if verb.group == group]
        positions = [menu.index(f"  {usage}") for usage in members]
        assert positions == sorted(positions), group
    assert menu.index("bookmark add NAME") < menu.index("ls [-l]")  # Connection before Remote files

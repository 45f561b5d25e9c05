"""The registry of ``chonaikai`` sub-commands: each command module registers itself with
``@command`` and ``cli.py`` imports them all (no command module imports ``cli``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

# name -> (help, add_arguments, run).
Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {}


def command(name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, arguments, run)
        return run

    return register

"""Placeholder: this subcommand's owner replaces this module."""


def register(subparsers) -> None:
    pass

"""One module per command group of the `modelship` command line. Each exposes
`register(subparsers)`, which adds its commands, and their handlers; `modelship.cli.main`
names them by dotted path in COMMANDS and imports one only when its command runs. A command
module imports argparse, the standard library and `modelship.cli.arguments` at its top and
everything else inside its handlers, and never imports another command module."""

__all__: list[str] = []

"""The `modelship` command line (run it as `modelship` or `python -m modelship`).

`main` is the plumbing: the top-level parser, the table of commands by dotted path, output
and exit status. `commands/` holds one module per command group, imported only when its
command runs; `arguments` the options several commands share; `errors` maps every failure to
one line with its reason code."""

from modelship.cli.main import main

__all__ = ["main"]

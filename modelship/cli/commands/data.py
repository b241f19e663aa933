"""`modelship data export`: the reference churn dataset as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelship.cli.arguments import output_option
from modelship.errors import CommandFailed


def register(commands: Any) -> None:
    """Adds `data` to the `modelship` parser."""
    data = commands.add_parser("data", help="the reference dataset")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    export = data_commands.add_parser(
        "export",
        parents=[output_option()],
        help="write the reference churn data as CSV: the format `train --data` and retraining read",
    )
    export.add_argument("--out", type=Path, required=True, help="CSV file to write (new)")
    export.add_argument("--rows", type=int, default=6000, help="rows (default 6000)")
    export.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    export.add_argument("--drift", type=float, default=0.0, help="population drift, 0..1")
    export.set_defaults(run=_export_data)


def _export_data(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.training.churn import CHURN_TARGET, generate_churn
    from modelship.training.tables import write_csv

    if args.out.exists():
        raise CommandFailed(f"{args.out} exists; choose a new file")
    if args.rows < 1 or not 0.0 <= args.drift <= 1.0:
        raise CommandFailed("--rows must be at least 1 and --drift between 0 and 1")
    table = generate_churn(n_rows=args.rows, seed=args.seed, drift=args.drift)
    write_csv(table, args.out)
    columns = [*table.feature_names, CHURN_TARGET]
    return {
        "text": f"wrote {table.n_rows} rows to {args.out}: columns {', '.join(columns)} "
        f"(target {CHURN_TARGET})",
        "json": {"out": str(args.out), "rows": table.n_rows, "columns": columns},
    }

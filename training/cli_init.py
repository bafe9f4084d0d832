"""``kizuna init FILE``: from a user's export to a commented experiment file, then validation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from kizuna.features.errors import KizunaInputError
from kizuna.training.cli_common import JsonOpt, QuietOpt, console, emit_json, print_reconciliation
from kizuna.training.progress import step


def init(
    source: Annotated[Path, typer.Argument(help="Your order export (any delimiter or format).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Experiment file to write (default experiments/<name>.yaml)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Look at an export, write an experiment file proposing how to read it, then validate it."""
    from kizuna.training.config import load_experiment
    from kizuna.training.data import load_transactions
    from kizuna.training.sniff import sniff

    stem = source.name.split(".")[0] or "mine"
    out = out or Path("experiments") / f"{stem}.yaml"
    if out.exists() and not force:
        raise KizunaInputError(f"{out} exists; pass --force to overwrite it, or --out elsewhere")
    with step(f"looking at {source}", quiet=quiet):
        proposal = sniff(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(experiment_yaml(proposal, out=out, name=stem))
    config = load_experiment(out)
    validated = load_transactions(config.data, quiet=quiet, with_events=False)
    report = validated.report.to_dict()
    payload = {
        "experiment": str(out),
        "column_map": proposal.column_map,
        "timestamp": proposal.rule.describe(),
        "as_of": str(proposal.as_of.date()),
        "horizon_days": proposal.horizon_days,
        "notes": proposal.notes,
        "report": report,
    }
    if as_json:
        emit_json(payload)
        return
    console.print(
        f"wrote [bold]{escape(str(out))}[/bold]: read your file with {proposal.rule.describe()}"
    )
    for target, note in proposal.notes.items():
        console.print(f"  [yellow]check[/yellow] {target}: {escape(note)}")
    print_reconciliation(report)
    console.print(
        f"next: [bold]kizuna train {escape(str(out))}[/bold], then "
        f"[bold]kizuna serve --experiment {config.name}[/bold]"
    )


def experiment_yaml(proposal: Any, *, out: Path, name: str) -> str:
    """The experiment file for ``proposal`` (a :class:`training.sniff.Proposal`), commented.

    Parameters
    ----------
    proposal
        What the sniffing proposes.
    out
        Where the file goes (paths are made relative to it).
    name
        The experiment's name.

    Returns
    -------
    str
    """
    from kizuna.training.sniff import describe

    source = Path(os.path.relpath(proposal.path.resolve(), out.resolve().parent))
    if source.parts[:2] == ("..", ".."):  # far away: an absolute path reads better
        source = proposal.path.resolve()
    reading = proposal.reading
    lines = [
        f"# Written by `kizuna init {proposal.path.name}`: a proposal; check the lines marked CHECK.",
        "# Then: kizuna train <this file>; kizuna serve.",
        f"name: {name}",
        f"description: {json.dumps(f'first experiment on {proposal.path.name}')}",
        "seed: 0",
        "data:",
        f"  transactions: {json.dumps(str(source))}"
        + ("" if source.is_absolute() else "   # relative to this file"),
        "  format: canonical",
    ]
    if reading.file_format is not None:
        lines.append(f"  file_format: {reading.file_format}   # csv | tsv | parquet | jsonl")
    if reading.delimiter is not None:
        lines.append(f"  delimiter: {json.dumps(reading.delimiter)}")
    if reading.encoding != "utf-8":
        lines.append(
            f"  encoding: {reading.encoding}   # CHECK: not UTF-8; {reading.encoding} is a guess"
        )
    if not reading.header:
        lines.append("  header: false     # the first line is data; the names below are ours")
        lines.append(f"  columns: {json.dumps(list(reading.columns))}")
    rule = proposal.rule
    if rule.epoch:
        lines.append(f"  epoch: {rule.epoch}          # the times are {rule.describe()}")
    elif rule.format:
        lines.append(f"  timestamp_format: {json.dumps(rule.format)}")
    elif rule.dayfirst is not None:
        lines.append(f"  dayfirst: {str(rule.dayfirst).lower()}  # seen in the data")
    numbers = proposal.numbers
    if numbers is not None:
        check = f"CHECK: {proposal.numbers_note}" if proposal.numbers_note else "seen in the data"
        lines.append(f"  decimal: {json.dumps(numbers.decimal)}   # {check}")
        if numbers.thousands is not None:
            lines.append(f"  thousands: {json.dumps(numbers.thousands)}")
    lines.append("  # The columns found (kind, how dates are written, examples):")
    lines.extend("  " + line for line in describe(proposal).rstrip("\n").split("\n"))
    lines.append("  # canonical name: your column, a constant, or an expression like '{a}-{b}'")
    lines.append("  column_map:")
    for target, spec in proposal.column_map.items():
        value = spec if isinstance(spec, int | float) else json.dumps(spec)
        if isinstance(spec, dict):
            value = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in spec.items()) + "}"
        note = proposal.notes.get(target)
        comment = f"   # CHECK: {note}" if note else ""
        lines.append(f"    {target}: {value}{comment}")
    span = f"{proposal.start.date()} to {proposal.end.date()}"
    lines += [
        "split:",
        f"  # the data runs from {span}; as_of leaves {proposal.horizon_days} days after it",
        f"  as_of: {proposal.as_of.date()}",
        f"  horizon_days: {proposal.horizon_days}",
        "  lookback_days: 365",
        f"  train_snapshots: {proposal.train_snapshots}",
        "recommender:",
        f"  enabled: {'false' if isinstance(proposal.column_map['item_id'], dict) else 'true'}",
        "  k: 10",
        "churn:",
        "  mode: non_contractual",
        "ltv:",
        "  enabled: true",
        "tracking:",
        f"  experiment_name: kizuna-{name}",
        "",
    ]
    return "\n".join(lines)

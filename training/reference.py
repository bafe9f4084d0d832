"""The reference page, generated from the code: every command and option, every key of
the experiment file, every environment variable of the service.

``python -m kizuna.training.reference > docs/reference.md`` writes it; a test checks
that the committed page equals what the code generates, so it cannot go stale.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

PROJECT = Path(__file__).resolve().parents[1]
HEADER = """# kizuna reference

Generated from the code by `python -m kizuna.training.reference > docs/reference.md`
(a test fails when this page and the code differ). The README explains what these do.
"""


def render() -> str:
    """The whole page (Markdown).

    Returns
    -------
    str
    """
    sections = [commands_section(), experiment_section(), endpoints_section()]
    return "\n".join([HEADER, *sections, environment_section()])


# --- commands ---------------------------------------------------------------------------------


def commands_section() -> str:
    """Every ``kizuna`` command and subcommand with its arguments and options.

    Returns
    -------
    str
    """
    from typer.main import get_command

    from kizuna.training.cli import app

    root = get_command(app)
    out = ["## Commands", ""]
    for path, command in _walk(root, ["kizuna"]):
        out += [f"### `{' '.join(path)}`", "", _first_paragraph(command.help or ""), ""]
        rows = [_param_row(p) for p in command.params if not getattr(p, "hidden", False)]
        rows = [r for r in rows if r is not None]
        if rows:
            out += ["| argument or option | default | what it does |", "|---|---|---|", *rows, ""]
    return "\n".join(out)


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    # Typer's command classes are click's in shape (its own copy of click, in recent Typer).
    if not hasattr(command, "list_commands"):
        return [(path, command)]
    ctx = command.context_class(command)
    found: list[tuple[list[str], Any]] = []
    if command.callback is not None:
        # a group that also runs (`kizuna score`), or the root's own options (`--version`)
        found.append((path, command))
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            found += _walk(sub, [*path, name])
    return found


def _param_row(param: Any) -> str | None:
    if param.name == "help":
        return None
    argument = param.param_type_name == "argument"
    if argument:
        name = f"`{(param.metavar or param.name or '').upper()}`"
    else:
        name = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    help_text = _cell(getattr(param, "help", None) or "")
    if argument and param.required:
        return f"| {name} | required | {help_text} |"
    default = param.default
    shown = "required" if param.required else _value(default)
    return f"| {name} | {shown} | {help_text} |"


# --- the experiment file ----------------------------------------------------------------------


def experiment_section() -> str:
    """Every key of the experiment YAML: type, default, and the code's comment on it.

    Returns
    -------
    str
    """
    from kizuna.training.config import ExperimentConfig

    out = ["## The experiment file", ""]
    out += _model_rows(ExperimentConfig, "")
    return "\n".join(out)


def _model_rows(model: type[BaseModel], prefix: str) -> list[str]:
    notes = _field_comments(model)
    title = f"`{prefix.rstrip('.')}`" if prefix else "top level"
    rows = [f"### {title}", "", _paragraphs(inspect.getdoc(model) or ""), ""]
    rows += ["| key | type | default | note |", "|---|---|---|---|"]
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        if sub is not None:
            nested.append((sub, f"{prefix}{name}."))
            default = "see below"
        elif field.default_factory is not None:
            default = _value(field.default_factory())  # type: ignore[call-arg]
        elif field.default is PydanticUndefined:
            default = "required"
        else:
            default = _value(field.default)
        note = field.description or notes.get(name, "")
        type_text = _cell(_type_name(field.annotation))
        rows.append(f"| `{prefix}{name}` | {type_text} | {default} | {_cell(note)} |")
    rows.append("")
    for sub, sub_prefix in nested:
        rows += _model_rows(sub, sub_prefix)
    return rows


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings section an annotation holds (``X`` or ``X | None``), if any."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for option in options:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _type_name(annotation: Any) -> str:
    text = str(annotation) if not isinstance(annotation, type) else annotation.__name__
    text = re.sub(r"\b(typing|pathlib|datetime|kizuna(\.\w+)*)\.", "", text)
    text = re.sub(r"Annotated\[(\w+), .*?\)\]", r"\1", text)  # constraints: in the note
    return text.replace("NoneType", "None")


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the comment the code gives it (trailing, or the lines just above)."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#: ").strip())
            continue
        match = re.match(r"^\s{4}(\w+)\s*:", line)
        if match:
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            out[match.group(1)] = trailing or " ".join(above)
        above = []
    return out


# --- endpoints --------------------------------------------------------------------------------


def endpoints_section() -> str:
    """Every endpoint of the service (JSON over POST) and its request fields.

    Returns
    -------
    str
    """
    from kizuna.serving.service import KizunaService

    out = ["## Endpoints of the service", ""]
    out += ["JSON over POST; `/docs.json` has the full OpenAPI document, answers included.", ""]
    for api in sorted(KizunaService.apis.values(), key=lambda a: a.route):
        out += [f"### `POST {api.route}`", "", _first_paragraph(api.func.__doc__ or ""), ""]
        fields = api.input_spec.model_fields
        if not fields:
            continue
        out += ["| field | type | default | what it is |", "|---|---|---|---|"]
        for name, field in fields.items():
            bounds = " ".join(_bound(m) for m in field.metadata if _bound(m))
            default = (
                "required"
                if field.is_required()
                else _value(field.get_default(call_default_factory=True))
            )
            note = " ".join(x for x in (field.description or "", bounds) if x)
            out.append(
                f"| `{name}` | {_cell(_type_name(field.annotation))} | {default} | {_cell(note)} |"
            )
        out.append("")
    return "\n".join(out)


def _bound(meta: Any) -> str:
    for attr, sign in (
        ("ge", "≥"),
        ("gt", ">"),
        ("le", "≤"),
        ("lt", "<"),
        ("max_length", "at most"),
    ):
        value = getattr(meta, attr, None)
        if value is not None:
            return f"({sign} {value})"
    return ""


# --- environment ------------------------------------------------------------------------------


def environment_section() -> str:
    """The service's environment variables: the table in :mod:`serving.config`.

    Returns
    -------
    str
    """
    from kizuna.serving import config

    doc = config.__doc__ or ""
    table = doc[doc.index("=====") : doc.rindex("=====") + 5]
    rows = _rst_table(table)
    intro = _paragraphs(doc[: doc.index("=====")])
    out = ["## Environment variables of the service", "", intro, ""]
    out += ["| variable | meaning | default |", "|---|---|---|"]
    out += [f"| {' | '.join(_cell(_rst_inline(c)) for c in row)} |" for row in rows]
    out.append("")
    return "\n".join(out)


def _rst_table(table: str) -> list[list[str]]:
    """The rows of a simple reStructuredText table (continuation lines joined)."""
    lines = table.splitlines()
    widths = [len(m.group(0)) for m in re.finditer(r"=+", lines[0])]
    starts = [m.start() for m in re.finditer(r"=+", lines[0])]
    rows: list[list[str]] = []
    body = [ln for ln in lines[3:] if not set(ln.strip()) <= {"=", " "}]
    for line in body:
        cells = []
        for i, start in enumerate(starts):
            end = start + widths[i] if i < len(starts) - 1 else len(line)
            cells.append(line[start:end].strip())
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return rows


def _rst_inline(text: str) -> str:
    return text.replace("``", "`")


# --- text helpers -----------------------------------------------------------------------------


def _paragraphs(text: str) -> str:
    """Each paragraph on one line, reStructuredText's double backquotes made single."""
    parts = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(parts).replace("``", "`")


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _cell(text: str) -> str:
    # Typer's help escapes "[" for its console; Markdown needs "|" escaped instead.
    return " ".join(str(text).split()).replace("\\[", "[").replace("|", "\\|")


def _value(value: Any) -> str:
    if value is None or value == () or value == []:
        return "—" if value is None else "`[]`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(PROJECT):
        value = value.relative_to(PROJECT)  # a default inside the project, wherever it is
    return f"`{_cell(value)}`"


if __name__ == "__main__":
    print(render(), end="")

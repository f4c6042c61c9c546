"""What one environment variable is: its name, type, default, meaning and who reads it. Django-free.

A ``Setting`` is declared once, in ``contracts.settings_catalog.catalog``; the readers
(``contracts.settings_catalog.readers``) and the README's configuration table are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What the text of a variable is parsed into. ``list`` is comma-separated; ``choice`` is one of ``choices``.
Kind = Literal["str", "int", "float", "bool", "list", "choice"]
KINDS: tuple[Kind, ...] = ("str", "int", "float", "bool", "list", "choice")

# The processes (and tools) that read a variable; the README's "read by" column.
Process = Literal["controlplane", "runner", "rendezvous", "rdvctl", "scripts", "bench"]
PROCESSES: tuple[Process, ...] = ("controlplane", "runner", "rendezvous", "rdvctl", "scripts", "bench")

# The table's sections, in the order the README shows them.
Section = Literal["Kafka", "Runner", "Rendezvous worker", "Control plane", "Production", "Tools"]
SECTIONS: tuple[Section, ...] = ("Kafka", "Runner", "Rendezvous worker", "Control plane", "Production", "Tools")

Default = str | int | float | bool | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable.

    ``default`` is the typed value an unset (or blank) variable stands for; ``None`` means there is
    none: the reader returns ``None`` (optional) or, with ``required=True``, refuses to start.
    ``default_doc`` replaces the default in the README when it is computed (another variable, the
    host name) or differs per settings module. ``minimum`` bounds numbers (``above`` makes it strict).
    """

    name: str
    kind: Kind
    default: Default
    doc: str
    read_by: tuple[Process, ...]
    section: Section
    default_doc: str = ""
    # A credential: never logged or shown; the README says so.
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    above: bool = False
    # Required (no usable default) when the process runs in production.
    required_in_production: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"{self.name}: a choice needs its choices")
        if self.kind == "choice" and self.default is not None and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not one of its choices")
        if not self.read_by:
            raise ValueError(f"{self.name}: say which process reads it")
        if not self.doc.strip():
            raise ValueError(f"{self.name}: document it")

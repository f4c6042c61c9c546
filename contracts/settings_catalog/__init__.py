"""One settings layer for every process: each environment variable declared once (``catalog``), read
through typed readers that name the variable in their errors (``readers``), and documented by the
README table generated from the same declarations (``markdown``). Django-free.
"""

from contracts.settings_catalog.catalog import SETTINGS
from contracts.settings_catalog.readers import (
    DECLARED,
    Declared,
    SettingError,
    UndeclaredSetting,
    is_declared,
    parse,
    raw,
    read,
    read_bool,
    read_declared,
    read_float,
    read_int,
    read_list,
    read_optional_int,
    read_optional_str,
    read_str,
    setting,
)
from contracts.settings_catalog.spec import PROCESSES, SECTIONS, Process, Setting

__all__ = [
    "DECLARED",
    "Declared",
    "PROCESSES",
    "SECTIONS",
    "SETTINGS",
    "Process",
    "Setting",
    "SettingError",
    "UndeclaredSetting",
    "is_declared",
    "parse",
    "raw",
    "read",
    "read_bool",
    "read_declared",
    "read_float",
    "read_int",
    "read_list",
    "read_optional_int",
    "read_optional_str",
    "read_str",
    "setting",
]

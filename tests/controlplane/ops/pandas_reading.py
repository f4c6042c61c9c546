"""How a data scientist reads an export back: the documented pandas calls, in one place for the tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_export(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # precise_float: pandas' default JSON float parser rounds (1.7 reads as 1.7000000000000002);
    # dtype=False: it would otherwise guess that ``sent_at`` (epoch seconds, a float) is a date.
    return pd.read_json(path, lines=True, dtype=False, precise_float=True)

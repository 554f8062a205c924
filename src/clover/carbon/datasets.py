"""The dataset registry (tidy CSV directories of the data directory), the Clover presets and
per-zone series lookup."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from clover.carbon.csvio import ZONE_COL, _display, read_carbon_csv
from clover.carbon.trace import _HOUR
from clover.errors import CloverError
from clover.paths import resolve_data_dir


@dataclass(frozen=True)
class CarbonDataset:
    """One tidy carbon dataset: a directory of CSVs under the data directory."""

    key: str
    directory: str  #: relative to the data directory
    description: str
    per_zone_files: bool  #: file stem == zone id (lets :func:`load_zone` skip the others)


#: Known datasets, in the order :func:`load_zone` prefers them (longest, gap-free first).
DATASETS: tuple[CarbonDataset, ...] = (
    CarbonDataset("electricitymaps", "carbon/electricitymaps",
                  "Electricity Maps hourly lifecycle (LCA) intensity 2021-2024, via HPE "
                  "sustain-cluster (ODbL)", True),
    CarbonDataset("eia930_2022", "carbon/eia930_2022",
                  "EIA-930 generation-weighted intensity of 8 US balancing authorities, 2022, "
                  "via HPE dc-rl", False),
    CarbonDataset("uk_eso_2021", "carbon/uk_eso_2021",
                  "National Grid ESO actual GB intensity 2021, via sc23-sustainability", False),
    CarbonDataset("clover", "carbon/clover",
                  "the three 49-hour traces of the original Clover artifact (sc23-clover)", False),
)
_DATASET_BY_KEY = {d.key: d for d in DATASETS}


@dataclass(frozen=True)
class Preset:
    """One of the original Clover traces (sc23-clover ``system/csv``, MIT)."""

    name: str
    file: str  #: tidy CSV, relative to the data directory
    original: str  #: the authors' byte-for-byte file, relative to the data directory
    zone: str
    mean_g_per_kwh: float  #: from ``../shared/data/README.md`` (validation summary)


#: The three traces the Clover paper evaluates (49 hourly values each).
PRESETS: dict[str, Preset] = {
    "CISO-March": Preset("CISO-March", "carbon/clover/CISO_March.csv",
                         "carbon/clover_original/carbon_intensity.csv", "US-CAL-CISO", 239.2),
    "CISO-Sep": Preset("CISO-Sep", "carbon/clover/CISO_Sep.csv",
                       "carbon/clover_original/carbon_intensity_ciso_sep.csv", "US-CAL-CISO", 223.7),
    "ESO-March": Preset("ESO-March", "carbon/clover/ESO_March.csv",
                        "carbon/clover_original/carbon_intensity_eso_march.csv", "GB", 137.3),
}


# --------------------------------------------------------------------------- the trace type


def _preset_key(name: str) -> str | None:
    wanted = name.strip().replace("_", "-").lower()
    for key in PRESETS:
        if key.lower() == wanted:
            return key
    return None


def _dataset(key: str) -> CarbonDataset:
    try:
        return _DATASET_BY_KEY[key]
    except KeyError:
        raise CloverError(f"unknown carbon dataset {key!r}; known: "
                          f"{', '.join(_DATASET_BY_KEY)}") from None


def _dataset_files(dataset: CarbonDataset, root: Path) -> list[Path]:
    directory = root / dataset.directory
    return sorted(directory.glob("*.csv")) if directory.is_dir() else []


def list_zones(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every (zone, dataset, file) in the data directory with its span.

    Columns: ``zone, dataset, first_utc, last_utc, rows, missing_hours, file`` (file relative
    to the data directory); ``missing_hours`` counts hours absent between first and last.
    Sorted by zone, then dataset preference (:data:`DATASETS` order).
    """
    root = resolve_data_dir(data_dir)
    rows = []
    for rank, dataset in enumerate(DATASETS):
        for path in _dataset_files(dataset, root):
            frame = read_carbon_csv(path, resample=False)
            for zone, part in frame.groupby(ZONE_COL, sort=True):
                first, last = part.index[0], part.index[-1]
                expected = int((last - first) / _HOUR) + 1
                rows.append({"zone": zone, "dataset": dataset.key, "first_utc": first,
                             "last_utc": last, "rows": len(part),
                             "missing_hours": expected - len(part),
                             "file": _display(path, root), "_rank": rank})
    if not rows:
        raise CloverError(f"no carbon traces under {root / 'carbon'}; run `clover data download` "
                          "or point CLOVER_DATA / --data-dir at the curated data directory")
    table = pd.DataFrame(rows).sort_values(["zone", "_rank", "file"], kind="stable")
    return table.drop(columns="_rank").reset_index(drop=True)


@dataclass(frozen=True)
class _Series:
    """A zone's validated hourly values (may have gaps) and where they came from."""

    zone: str
    dataset: str
    values: pd.Series  #: ci_g_per_kwh indexed by UTC hour start, sorted, unique
    source: str


def _zone_series(zone: str, dataset: str | None, root: Path, resample: bool) -> _Series:
    candidates = [_dataset(dataset)] if dataset else [d for d in DATASETS if d.key != "clover"]
    for ds in candidates:
        files = _dataset_files(ds, root)
        if ds.per_zone_files:
            files = [p for p in files if p.stem == zone]
        parts, used = [], []
        for path in files:
            frame = read_carbon_csv(path, resample=resample)
            part = frame.loc[frame[ZONE_COL] == zone, "ci_g_per_kwh"]
            if len(part):
                parts.append(part)
                used.append(_display(path, root))
        if parts:
            values = pd.concat(parts).sort_index()
            if values.index.has_duplicates:
                raise CloverError(f"zone {zone} appears twice for the same hour in "
                                  f"{', '.join(used)} (dataset {ds.key})")
            return _Series(zone, ds.key, values, f"{ds.key}: {', '.join(used)}")
    known = _known_zones(root, candidates)
    where = f"dataset {dataset}" if dataset else "the carbon datasets"
    raise CloverError(f"unknown zone {zone!r}: not in {where} under {root}; known zones: "
                      f"{', '.join(known) if known else '(none)'}; presets: {', '.join(PRESETS)}")


def _known_zones(root: Path, datasets: Iterable[CarbonDataset]) -> list[str]:
    zones: set[str] = set()
    for ds in datasets:
        for path in _dataset_files(ds, root):
            if ds.per_zone_files:
                zones.add(path.stem)
            else:
                try:
                    zones.update(read_carbon_csv(path)[ZONE_COL].unique())
                except CloverError:
                    continue
    return sorted(zones)

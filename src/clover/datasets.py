"""The curated data directory's manifest: verify files by sha256, download the public originals.

``MANIFEST.tsv`` (in the curated data directory; a copy of its downloadable rows ships as
``data/download_manifest.tsv`` so a clean clone can fill ``data/external/``) has one row per
file: ``path, bytes, sha256, source_repo, source_path, source_commit, licence``. Every file
was read from a public GitHub repository at a pinned commit; the raw URL of a single source
file is ``https://github.com/OWNER/REPO/raw/COMMIT/PATH`` (``PROVENANCE.md``).

Each row is one of three kinds (:attr:`ManifestEntry.kind`):

``raw``
    a byte-for-byte copy of one source file: downloaded and checked against the sha256;
``derived``
    a tidy file built from one or more source files (the carbon CSVs, the per-minute Azure
    aggregates). Where this module has a recipe (:data:`RECIPES`, the same transformation
    as the curated dataset's ``_build/build_dataset.py``) the sources are downloaded, the
    file is rebuilt, and it is kept only if its sha256 equals the manifest's;
``curated``
    written by the dataset's curators (``source_repo`` = ``(this dataset)``: README,
    PROVENANCE, build scripts, validation summary) or derived without a recipe here (the
    MISO and MLPerf summaries): not downloadable; get the curated data directory.

Nothing is ever left under a final name unless its sha256 matched (``atomic_write``);
re-running skips files already present with the right hash.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

import pandas as pd

from clover.errors import CloverError
from clover.timestamps import ISO_UTC_FORMAT
from clover.paths import atomic_write, catalog_dir, check_input_file, repo_root, resolve_data_dir

MANIFEST_NAME = "MANIFEST.tsv"
MANIFEST_COLUMNS = ("path", "bytes", "sha256", "source_repo", "source_path", "source_commit",
                    "licence")
CURATED_REPO = "(this dataset)"
GITHUB = "https://github.com"
#: Environment variable that replaces :data:`GITHUB` (a mirror, or ``file:///...`` for tests).
ENV_MIRROR = "CLOVER_DATA_MIRROR"
DEFAULT_TIMEOUT_S = 60.0

Kind = Literal["raw", "derived", "curated"]
#: ``opener(url, timeout_s) -> bytes``; raises ``OSError``/``urllib.error.URLError`` on failure
Opener = Callable[[str, float], bytes]


class NetworkError(CloverError):
    """The download source cannot be reached at all (no network, DNS, refused)."""


@dataclass(frozen=True)
class ManifestEntry:
    """One row of ``MANIFEST.tsv``."""

    path: str
    bytes: int
    sha256: str
    source_repo: str
    source_path: str
    source_commit: str
    licence: str

    @property
    def kind(self) -> Kind:
        if self.source_repo == CURATED_REPO or not self.source_repo:
            return "curated"
        if self.path in RECIPES:
            return "derived"
        if _is_plain_path(self.source_path):
            return "raw"
        return "curated"

    def url(self, source_path: str | None = None, base_url: str | None = None) -> str:
        """Raw URL of ``source_path`` (default: this entry's) at the pinned commit."""
        return raw_url(self.source_repo, self.source_commit,
                       self.source_path if source_path is None else source_path, base_url)


def _is_plain_path(source_path: str) -> bool:
    return bool(source_path) and not any(c in source_path for c in " {}*()<>")


def raw_url(repo: str, commit: str, path: str, base_url: str | None = None) -> str:
    """``BASE/OWNER/REPO/raw/COMMIT/PATH`` with the path percent-encoded (``&`` -> ``%26``)."""
    base = (base_url or os.environ.get(ENV_MIRROR) or GITHUB).rstrip("/")
    return f"{base}/{repo}/raw/{commit}/{urllib.parse.quote(path, safe='/')}"


def default_manifest() -> Path:
    """The manifest shipped with the repository (downloadable rows of the curated one)."""
    return catalog_dir() / "download_manifest.tsv"


def read_manifest(path: str | os.PathLike[str] | None = None) -> list[ManifestEntry]:
    """Parse a ``MANIFEST.tsv`` (default :func:`default_manifest`)."""
    path = Path(path) if path else default_manifest()
    if not path.exists():
        raise CloverError(f"manifest {path} not found")
    check_input_file(path, "manifest")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CloverError(f"manifest {path} is not a readable TSV: {exc}") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise CloverError(f"manifest {path}: missing column(s) {', '.join(missing)}")
    entries = []
    for i, row in enumerate(table.itertuples(index=False), start=2):
        sha = str(row.sha256).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise CloverError(f"manifest {path} line {i}: sha256 {row.sha256!r} is not a hex digest")
        try:
            size = int(row.bytes)
        except ValueError:
            raise CloverError(f"manifest {path} line {i}: bytes {row.bytes!r} is not an "
                              "integer") from None
        entries.append(ManifestEntry(row.path, size, sha, row.source_repo, row.source_path,
                                     row.source_commit, row.licence))
    return entries


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- verify

def manifest_for(data_dir: Path, manifest: str | os.PathLike[str] | None = None) -> Path:
    """The manifest to check ``data_dir`` against: explicit, its own, or the shipped one."""
    if manifest:
        return Path(manifest)
    own = data_dir / MANIFEST_NAME
    return own if own.is_file() else default_manifest()


def _matches(path: str, only: str | None) -> bool:
    if not only:
        return False
    return fnmatch.fnmatchcase(path, only) or path.startswith(only)


def cross_check(entries: list[ManifestEntry], mpath: Path,
                reference: str | os.PathLike[str] | None = None) -> list[str]:
    """Rows of ``entries`` whose ``bytes``/``sha256`` disagree with the project's own
    ``data/download_manifest.tsv`` (``reference``), compared by path for the paths present
    in both; a path only one manifest lists is not a disagreement (docs/reliability.md)."""
    ref_path = Path(reference) if reference else default_manifest()
    if not ref_path.is_file() or ref_path.resolve() == Path(mpath).resolve():
        return []
    ref = {e.path: e for e in read_manifest(ref_path)}
    out = []
    for e in entries:
        r = ref.get(e.path)
        if r is not None and (r.sha256 != e.sha256 or r.bytes != e.bytes):
            out.append(e.path)
    return out


def verify(data_dir: str | os.PathLike[str] | None = None,
           manifest: str | os.PathLike[str] | None = None, only: str | None = None,
           reference: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """sha256 of every manifest file in the data directory.

    Columns ``path, status, expected_sha256, actual_sha256`` with status ``ok``,
    ``mismatch``, ``missing`` (listed, required, not there), ``absent`` (listed, not
    downloaded: only when checking a partial download against the shipped manifest, for
    paths outside ``only``) or ``unreadable``. A curated data directory (its own
    ``MANIFEST.tsv``) or an explicit ``manifest`` requires every listed file.
    ``attrs``: ``data_dir``, ``manifest``, ``disagree`` (paths whose curated row differs
    from ``data/download_manifest.tsv``, see :func:`cross_check`).
    """
    root = resolve_data_dir(data_dir)
    mpath = manifest_for(root, manifest)
    partial = manifest is None and mpath == default_manifest()
    entries = read_manifest(mpath)
    rows = []
    for entry in entries:
        target = root / entry.path
        if not target.is_file():
            status = "absent" if partial and not _matches(entry.path, only) else "missing"
            rows.append((entry.path, status, entry.sha256, ""))
            continue
        try:
            actual = sha256_file(target)
        except OSError as exc:
            rows.append((entry.path, "unreadable", entry.sha256,
                         exc.strerror or type(exc).__name__))
            continue
        rows.append((entry.path, "ok" if actual == entry.sha256 else "mismatch", entry.sha256,
                     actual))
    table = pd.DataFrame(rows, columns=["path", "status", "expected_sha256", "actual_sha256"])
    table.attrs.update(data_dir=str(root), manifest=str(mpath),
                       disagree=cross_check(entries, mpath, reference))
    return table


def data_files(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The manifest(s) and every listed file present in the data directory (absolute paths):
    the inputs of the pipeline's data rule, so a changed file triggers re-verification."""
    try:
        root = resolve_data_dir(data_dir)
        mpath = manifest_for(root)
        entries = read_manifest(mpath)
    except CloverError:
        return []
    files = {str(mpath.resolve()), str(default_manifest().resolve())}
    files.update(str(root / e.path) for e in entries if (root / e.path).is_file())
    return sorted(files)


# --------------------------------------------------------------------------- fetching

def urllib_opener(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> bytes:
    """Fetch ``url`` (https or file) with urllib."""
    request = urllib.request.Request(url, headers={"User-Agent": "clover-repro data download"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        return response.read()


class _Fetcher:
    """Fetches URLs once per run; turns transport failures into clear errors."""

    def __init__(self, opener: Opener, timeout_s: float) -> None:
        self.opener, self.timeout_s = opener, timeout_s
        self.cache: dict[str, bytes] = {}

    def __call__(self, url: str) -> bytes:
        if url not in self.cache:
            try:
                self.cache[url] = self.opener(url, self.timeout_s)
            except urllib.error.HTTPError as exc:
                raise CloverError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") \
                    from None
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                if url.startswith("file:") and isinstance(reason, FileNotFoundError):
                    raise CloverError(f"download of {url} failed: not found in the mirror") \
                        from None
                raise NetworkError(
                    f"cannot download {url}: {reason} (no network? copy the curated data "
                    f"directory and point CLOVER_DATA at it, or set {ENV_MIRROR} to a mirror)"
                ) from None
        return self.cache[url]


# --------------------------------------------------------------------------- recipes
# Each recipe rebuilds one tidy file from its public sources exactly as the curated dataset's
# _build/build_dataset.py does (same columns, formats and filters), so the sha256 matches.

def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, float_format="%.2f", lineterminator="\n")
    return buffer.getvalue().encode()


def _iso(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.strftime(ISO_UTC_FORMAT)


#: Clover tidy traces: name -> (source file, zone, verified start UTC, timestamp basis);
#: starts and basis from PROVENANCE.md, section 1a.
CLOVER_TIDY = {
    "CISO_March": ("system/csv/carbon_intensity.csv", "US-CAL-CISO", "2021-03-26T21:00:00Z",
                   "verified_by_shape"),
    "CISO_Sep": ("system/csv/carbon_intensity_ciso_sep.csv", "US-CAL-CISO",
                 "2021-09-16T20:00:00Z", "verified_by_shape"),
    "ESO_March": ("system/csv/carbon_intensity_eso_march.csv", "GB", "2021-03-13T22:00:00Z",
                  "verified_exact"),
}
EM_YEARS = (2021, 2022, 2023, 2024)
EIA_BAS = ("AZPS", "BPAT", "CISO", "ERCO", "MISO", "NYIS", "PJM", "SOCO")
EIA_FUELS = ["WND", "SUN", "WAT", "OIL", "NG", "COL", "NUC", "OTH"]

Fetch = Callable[[str], bytes]
Recipe = Callable[[ManifestEntry, Fetch, "str | None"], bytes]


def build_clover_tidy(entry: ManifestEntry, fetch: Fetch, base_url: str | None) -> bytes:
    """``carbon/clover/<NAME>.csv``: the authors' 49 values with verified UTC timestamps."""
    name = Path(entry.path).stem
    source, zone, start, basis = CLOVER_TIDY[name]
    values = pd.read_csv(io.BytesIO(fetch(entry.url(source, base_url)))).iloc[:, 0].astype(float)
    stamps = pd.date_range(pd.Timestamp(start), periods=len(values), freq="h")
    return _csv_bytes(pd.DataFrame({
        "timestamp_utc": stamps.strftime(ISO_UTC_FORMAT), "zone": zone,
        "carbon_intensity_g_per_kwh": values, "trace": name,
        "hour_index": range(len(values)), "timestamp_basis": basis}))


def build_electricitymaps(entry: ManifestEntry, fetch: Fetch, base_url: str | None) -> bytes:
    """``carbon/electricitymaps/<ZONE>.csv`` from the four yearly sustain-cluster files."""
    directory = entry.source_path.split("/")[2]  # data/carbon_intensity/<DIR>/{...}/...
    parts = [pd.read_csv(io.BytesIO(fetch(entry.url(
        f"data/carbon_intensity/{directory}/{year}/{directory}_{year}_hourly.csv", base_url))))
        for year in EM_YEARS]
    e = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame({
        "timestamp_utc": _iso(e["Datetime (UTC)"]), "zone": e["Zone Id"].iloc[0],
        "carbon_intensity_g_per_kwh": e["Carbon Intensity gCO₂eq/kWh (LCA)"].astype(float),
        "carbon_intensity_direct_g_per_kwh": e["Carbon Intensity gCO₂eq/kWh (direct)"].astype(float),
        "low_carbon_pct": e["Low Carbon Percentage"], "renewable_pct": e["Renewable Percentage"],
        "is_estimated": e["Data Estimated"].astype(str).str.lower().eq("true").astype(int),
    })
    out = (out.dropna(subset=["carbon_intensity_g_per_kwh"]).drop_duplicates("timestamp_utc")
           .sort_values("timestamp_utc"))
    return _csv_bytes(out)


def build_eia930(entry: ManifestEntry, fetch: Fetch, base_url: str | None) -> bytes:
    """``carbon/eia930_2022/eia930_dcrl_2022.csv`` from dc-rl's eight BA files."""
    frames = []
    for ba in EIA_BAS:
        d = pd.read_csv(io.BytesIO(fetch(entry.url(f"data/CarbonIntensity/{ba}_NG_&_avgCI.csv",
                                                   base_url))))
        frames.append(pd.DataFrame({
            "timestamp_utc": _iso(d["timestamp"]), "zone": f"US-EIA-{ba}",
            "carbon_intensity_g_per_kwh": d["avg_CI"].astype(float),
            "total_generation_mwh": d[EIA_FUELS].sum(axis=1),
        }).dropna(subset=["carbon_intensity_g_per_kwh"]))
    return _csv_bytes(pd.concat(frames, ignore_index=True))


def build_uk_eso(entry: ManifestEntry, fetch: Fetch, base_url: str | None) -> bytes:
    """``carbon/uk_eso_2021/GB_ESO_2021.csv``: ESO actual intensity, on-the-hour rows only."""
    u = pd.read_csv(io.BytesIO(fetch(entry.url(None, base_url))))
    uk = pd.DataFrame({
        "timestamp_utc": _iso(u["datetime"]), "zone": "GB",
        "carbon_intensity_g_per_kwh": u["carbon_intensity_production_avg"],
        "forecast_g_per_kwh": u["Forecast Carbon Intensity (gCO2/kWh)"].astype(float),
        "intensity_index": u["Index"]})
    on_hour = pd.to_datetime(u["datetime"], utc=True, format="ISO8601").dt.minute.eq(0)
    return _csv_bytes(uk[on_hour].dropna(subset=["carbon_intensity_g_per_kwh"]))


def build_azure_per_minute(entry: ManifestEntry, fetch: Fetch, base_url: str | None) -> bytes:
    """``requests/azure_llm_2023/per_minute_<kind>.csv``: requests and tokens per minute."""
    kind = Path(entry.path).stem.split("_")[-1]
    d = pd.read_csv(io.BytesIO(fetch(entry.url(f"data/AzureLLMInferenceTrace_{kind}.csv",
                                               base_url))))
    t = pd.to_datetime(d["TIMESTAMP"], format="ISO8601")
    g = d.assign(minute=t.dt.floor("min")).groupby("minute")
    pm = pd.DataFrame({"requests": g.size(), "context_tokens_sum": g["ContextTokens"].sum(),
                       "generated_tokens_sum": g["GeneratedTokens"].sum()})
    full = pd.date_range(pm.index.min(), pm.index.max(), freq="min")
    pm = pm.reindex(full, fill_value=0).rename_axis("minute_start").reset_index()
    pm["minute_start"] = pm["minute_start"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    pm.insert(1, "trace", kind)
    return _csv_bytes(pm)


def _recipes() -> dict[str, Recipe]:
    out: dict[str, Recipe] = {f"carbon/clover/{name}.csv": build_clover_tidy for name in CLOVER_TIDY}
    for zone in ("AU-NSW", "AU-VIC", "BR-CS", "CA-ON", "CL-SEN", "DE", "GB", "IN-WE", "JP-TK",
                 "KR", "SG", "US-CAL-CISO", "US-MIDA-PJM", "US-NY-NYIS", "US-TEX-ERCO", "ZA"):
        out[f"carbon/electricitymaps/{zone}.csv"] = build_electricitymaps
    out["carbon/eia930_2022/eia930_dcrl_2022.csv"] = build_eia930
    out["carbon/uk_eso_2021/GB_ESO_2021.csv"] = build_uk_eso
    for kind in ("code", "conv"):
        out[f"requests/azure_llm_2023/per_minute_{kind}.csv"] = build_azure_per_minute
    return out


#: manifest path -> function rebuilding that file from its public sources
RECIPES: dict[str, Recipe] = _recipes()


# --------------------------------------------------------------------------- download

def default_dest() -> Path:
    """``data/external`` in the repository (the last place :func:`resolve_data_dir` looks)."""
    return repo_root() / "data" / "external"


def _selected(entries: Iterable[ManifestEntry], only: str | None) -> list[ManifestEntry]:
    entries = list(entries)
    if not only:
        return entries
    has_glob = any(c in only for c in "*?[")
    chosen = [e for e in entries
              if (fnmatch.fnmatch(e.path, only) if has_glob else e.path.startswith(only))]
    if not chosen:
        raise CloverError(f"--only {only!r} matches no file of the manifest")
    return chosen


def download(dest: str | os.PathLike[str] | None = None, only: str | None = None, *,
             manifest: str | os.PathLike[str] | None = None, opener: Opener | None = None,
             base_url: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
             progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fill ``dest`` (default ``data/external``) with the manifest's public files.

    Raw files are fetched from ``BASE/OWNER/REPO/raw/COMMIT/PATH`` (``base_url``, else
    ``$CLOVER_DATA_MIRROR``, else ``https://github.com``); derived files with a recipe are
    rebuilt from their sources. A file is written (atomically) only when its sha256 equals
    the manifest's; one already present with the right hash is left alone. ``only`` is a glob
    (``carbon/clover/*``) or a path prefix (``carbon/``).

    Returns one row per selected file: ``path, kind, status, detail`` with status
    ``present``, ``downloaded``, ``rebuilt``, ``needs-curated`` or ``failed``. A network
    failure (source unreachable) raises :class:`NetworkError` at once; other per-file
    failures are reported in the table (the CLI exits non-zero).
    """
    dest = Path(dest) if dest else default_dest()
    entries = _selected(read_manifest(manifest), only)
    fetch = _Fetcher(opener or urllib_opener, timeout_s)
    rows = []
    for entry in entries:
        kind = entry.kind
        target = dest / entry.path
        if progress:
            progress(entry.path)
        if target.is_file() and sha256_file(target) == entry.sha256:
            rows.append((entry.path, kind, "present", "sha256 ok"))
            continue
        if kind == "curated":
            rows.append((entry.path, kind, "needs-curated",
                         "written by the dataset curators or summarised without a recipe here; "
                         "get the curated data directory (see PROVENANCE.md)"))
            continue
        try:
            if kind == "raw":
                data = fetch(entry.url(None, base_url))
            else:
                data = RECIPES[entry.path](entry, fetch, base_url)
        except NetworkError:
            raise
        except CloverError as exc:
            rows.append((entry.path, kind, "failed", exc.message))
            continue
        except (KeyError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            rows.append((entry.path, kind, "failed", f"cannot rebuild from its sources: {exc!r}"))
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry.sha256:
            rows.append((entry.path, kind, "failed",
                         f"sha256 mismatch: got {actual}, manifest says {entry.sha256}; "
                         "not written"))
            continue
        with atomic_write(target, "wb") as fh:
            fh.write(data)
        rows.append((entry.path, kind, "downloaded" if kind == "raw" else "rebuilt",
                     f"{len(data)} bytes, sha256 ok"))
    table = pd.DataFrame(rows, columns=["path", "kind", "status", "detail"])
    table.attrs["dest"] = str(dest)
    return table

"""``clover data`` and clover.datasets: where, verify, download (offline, via a file:// mirror)."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
from pathlib import Path

import pandas as pd
import pytest

from clover.datasets import (
    RECIPES,
    NetworkError,
    download,
    raw_url,
    read_manifest,
    verify,
)
from clover.errors import CloverError


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mirror(shared_data, tmp_path_factory) -> Path:
    """A local copy of github.com/OWNER/REPO/raw/COMMIT/PATH for every raw manifest file."""
    root = tmp_path_factory.mktemp("mirror")
    for entry in read_manifest():
        if entry.kind == "raw":
            target = root / entry.source_repo / "raw" / entry.source_commit / entry.source_path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared_data / entry.path, target)
    return root


def _mirror_file(mirror: Path, entry, source_path: str, text: str) -> None:
    target = mirror / entry.source_repo / "raw" / entry.source_commit / source_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


# --------------------------------------------------------------------------- manifest

def test_shipped_manifest_agrees_with_curated_manifest(shared_data):
    shipped = {e.path: e for e in read_manifest()}
    curated = {e.path: e for e in read_manifest(shared_data / "MANIFEST.tsv")}
    # follows the curated manifest: every entry not built by this dataset itself is shipped
    expected = {p for p, e in curated.items() if e.source_repo != "(this dataset)"}
    assert expected <= set(shipped)
    for path, entry in shipped.items():
        assert curated[path] == entry
    left_out = {p for p, e in curated.items() if p not in shipped}
    assert all(curated[p].source_repo == "(this dataset)" for p in left_out)
    kinds = pd.Series([e.kind for e in shipped.values()]).value_counts().to_dict()
    want = pd.Series([curated[p].kind for p in shipped]).value_counts().to_dict()
    assert kinds == want and kinds.get("raw", 0) >= 79
    assert any(p.startswith("clover_reference/arrival_logs/") for p in shipped)
    assert set(RECIPES) == {p for p, e in shipped.items() if e.kind == "derived"}


def test_raw_urls_follow_provenance():
    entry = {e.path: e for e in read_manifest()}["carbon/clover_original/carbon_intensity.csv"]
    assert entry.url(base_url="https://github.com") == (
        "https://github.com/boringlee24/sc23-clover/raw/8cea06e507d56b9b99ba4a6a8e762ca1b39e33d8/"
        "system/csv/carbon_intensity.csv")
    # PROVENANCE 1c: '&' is percent-encoded
    assert raw_url("HewlettPackard/dc-rl", "a92b4755aca560e34a98d14028dda629eb968482",
                   "data/CarbonIntensity/CISO_NG_&_avgCI.csv", "https://github.com") == (
        "https://github.com/HewlettPackard/dc-rl/raw/a92b4755aca560e34a98d14028dda629eb968482/"
        "data/CarbonIntensity/CISO_NG_%26_avgCI.csv")


# --------------------------------------------------------------------------- where / verify

def test_where_reports_shared_data(run_cli, shared_data, monkeypatch, tmp_path):
    monkeypatch.delenv("CLOVER_DATA", raising=False)
    code, out, _ = run_cli("data", "where")
    assert code == 0 and out.splitlines()[0] == str(shared_data.resolve())
    assert "reason: ../shared/data" in out
    monkeypatch.setenv("CLOVER_DATA", str(tmp_path))
    code, out, _ = run_cli("data", "where")
    assert out.splitlines()[0] == str(tmp_path.resolve()) and "reason: env CLOVER_DATA" in out
    code, out, _ = run_cli("data", "where", "--data-dir", str(shared_data))
    assert "reason: config data_dir" in out
    code, _, err = run_cli("data", "where", "--data-dir", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err


def test_verify_shared_data_all_ok(run_cli, shared_data):
    table = verify(shared_data)
    n = len(read_manifest(shared_data / "MANIFEST.tsv"))
    assert len(table) == n and (table["status"] == "ok").all() and table.attrs["disagree"] == []
    code, out, _ = run_cli("data", "verify", "--data-dir", str(shared_data))
    assert code == 0 and f"{n} ok, 0 mismatched, 0 missing" in out


def test_verify_reports_corruption_and_missing(run_cli, shared_data, tmp_path):
    for rel in ("MANIFEST.tsv", "carbon/clover/CISO_March.csv", "carbon/clover/CISO_Sep.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, tmp_path / rel)
    path = tmp_path / "carbon/clover/CISO_Sep.csv"
    path.write_text(path.read_text().replace("141.60", "141.61"))
    table = verify(tmp_path).set_index("path")["status"]
    assert table["carbon/clover/CISO_March.csv"] == "ok"
    assert table["carbon/clover/CISO_Sep.csv"] == "mismatch"
    n_missing = int((table == "missing").sum())
    assert n_missing == len(table) - 2
    code, out, err = run_cli("data", "verify", "--data-dir", str(tmp_path))
    assert code == 2 and "MISMATCH carbon/clover/CISO_Sep.csv" in out
    assert err.startswith("clover: error: 1 file(s) differ from the manifest: "
                          f"carbon/clover/CISO_Sep.csv; {n_missing} listed file(s) missing: ")


# --------------------------------------------------------------------------- download

def test_download_raw_from_mirror_is_verified_and_idempotent(mirror, shared_data, tmp_path,
                                                             run_cli):
    dest = tmp_path / "external"
    code, out, err = run_cli("data", "download", "--dest", str(dest), "--only",
                             "carbon/clover_original/", "--base-url", mirror.as_uri())
    assert code == 0, err
    assert "into" in out and "4 downloaded" in out
    for name in ("carbon_intensity.csv", "carbon_intensity_ciso_sep.csv",
                 "carbon_intensity_eso_march.csv", "LICENSE"):
        rel = f"carbon/clover_original/{name}"
        assert (dest / rel).read_bytes() == (shared_data / rel).read_bytes()
    report = tmp_path / "report.tsv"
    code, out, _ = run_cli("data", "download", "--dest", str(dest), "--only",
                           "carbon/clover_original/*", "--base-url", mirror.as_uri(),
                           "--report", str(report))
    assert code == 0 and "4 present" in out and "downloaded" not in out
    assert pd.read_csv(report, sep="\t")["status"].tolist() == ["present"] * 4


def test_download_rebuilds_derived_files_byte_for_byte(mirror, shared_data, tmp_path):
    dest = tmp_path / "external"
    table = download(dest, "carbon/clover/*", base_url=mirror.as_uri())
    assert table["status"].tolist() == ["rebuilt"] * 3
    table = download(dest, "requests/azure_llm_2023/per_minute_*", base_url=mirror.as_uri())
    assert table["status"].tolist() == ["rebuilt"] * 2
    for rel in ("carbon/clover/CISO_March.csv", "carbon/clover/ESO_March.csv",
                "requests/azure_llm_2023/per_minute_conv.csv"):
        assert (dest / rel).read_bytes() == (shared_data / rel).read_bytes()
    # and the carbon loader reads the downloaded directory
    from clover.carbon import load_trace
    assert load_trace("ESO-March", data_dir=dest).ci_g_per_kwh[0] == 97.0


def test_corrupted_download_is_rejected_and_not_left(mirror, tmp_path, run_cli):
    bad_mirror = tmp_path / "bad"
    shutil.copytree(mirror / "boringlee24", bad_mirror / "boringlee24")
    entry = {e.path: e for e in read_manifest()}["carbon/clover_original/carbon_intensity.csv"]
    source = bad_mirror / entry.source_repo / "raw" / entry.source_commit / entry.source_path
    source.write_text(source.read_text().replace("124.57", "124.58"))
    dest = tmp_path / "external"
    table = download(dest, "carbon/clover_original/carbon_intensity.csv",
                     base_url=bad_mirror.as_uri()).iloc[0]
    assert table["status"] == "failed" and "sha256 mismatch" in table["detail"]
    assert not (dest / "carbon/clover_original/carbon_intensity.csv").exists()
    assert not list(dest.rglob("*.tmp"))
    # a derived file built from the corrupted source is rejected the same way
    table = download(dest, "carbon/clover/CISO_March.csv", base_url=bad_mirror.as_uri()).iloc[0]
    assert table["status"] == "failed" and not (dest / "carbon/clover/CISO_March.csv").exists()
    code, out, err = run_cli("data", "download", "--dest", str(dest), "--only",
                             "carbon/clover_original/carbon_intensity.csv", "--base-url",
                             bad_mirror.as_uri())
    assert code == 2 and err.startswith("clover: error: 1 file(s) failed, none of them written")
    assert "Traceback" not in err and err.count("\n") == 1


def test_file_missing_in_mirror_is_a_per_file_failure(tmp_path):
    table = download(tmp_path / "x", "carbon/clover_original/LICENSE",
                     base_url=(tmp_path / "empty").as_uri()).iloc[0]
    assert table["status"] == "failed" and "not found in the mirror" in table["detail"]


def test_network_failure_is_one_clear_error(tmp_path, run_cli, monkeypatch):
    def offline(url: str, timeout_s: float) -> bytes:
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    with pytest.raises(NetworkError, match=r"cannot download https://github\.com/.*no network"):
        download(tmp_path / "x", "carbon/clover_original/", opener=offline,
                 base_url="https://github.com")
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").rglob("*"))
    monkeypatch.setattr("clover.datasets.urllib_opener", offline)
    code, out, err = run_cli("data", "download", "--dest", str(tmp_path / "y"), "--only",
                             "carbon/")
    assert code == 2 and err.startswith("clover: error: cannot download ")
    assert err.count("\n") == 1


def test_curated_files_are_listed_not_fetched(tmp_path, run_cli):
    def never(url: str, timeout_s: float) -> bytes:  # pragma: no cover - must not be called
        raise AssertionError(url)

    table = download(tmp_path, "calibration/*tidy.csv", opener=never)
    assert table["status"].tolist() == ["needs-curated"] * 2
    with pytest.raises(CloverError, match="matches no file"):
        download(tmp_path, "nothing/*", opener=never)


# --------------------------------------------------------------------------- recipes vs sources

def _serve(files: dict[str, bytes]):
    def opener(url: str, timeout_s: float) -> bytes:
        try:
            return files[url]
        except KeyError:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None) from None
    return opener


def test_electricitymaps_recipe_rebuilds_tidy_file(shared_data, tmp_path):
    """Sources in sustain-cluster's yearly layout, made from the tidy GB file, rebuild it
    byte-for-byte (sha256 of the manifest)."""
    tidy = pd.read_csv(shared_data / "carbon/electricitymaps/GB.csv", dtype=str)
    entry = {e.path: e for e in read_manifest()}["carbon/electricitymaps/GB.csv"]
    files = {}
    stamps = pd.to_datetime(tidy["timestamp_utc"], utc=True)
    for year in (2021, 2022, 2023, 2024):
        part = tidy[stamps.dt.year == year]
        source = pd.DataFrame({
            "Datetime (UTC)": pd.to_datetime(part["timestamp_utc"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Country": "Great Britain", "Zone Name": "Great Britain", "Zone Id": part["zone"],
            "Carbon Intensity gCO₂eq/kWh (direct)": part["carbon_intensity_direct_g_per_kwh"],
            "Carbon Intensity gCO₂eq/kWh (LCA)": part["carbon_intensity_g_per_kwh"],
            "Low Carbon Percentage": part["low_carbon_pct"],
            "Renewable Percentage": part["renewable_pct"],
            "Data Source": "x", "Data Estimated": part["is_estimated"].map({"1": "true", "0": "false"}),
            "Data Estimation Method": ""})
        url = entry.url(f"data/carbon_intensity/GB/{year}/GB_{year}_hourly.csv", "https://x")
        files[url] = source.to_csv(index=False).encode()
    table = download(tmp_path, "carbon/electricitymaps/GB.csv", opener=_serve(files),
                     base_url="https://x").iloc[0]
    assert table["status"] == "rebuilt", table["detail"]
    assert _sha(tmp_path / "carbon/electricitymaps/GB.csv") == entry.sha256


def test_uk_eso_and_eia_recipes_rebuild_tidy_files(shared_data, tmp_path):
    entries = {e.path: e for e in read_manifest()}
    files = {}
    eso = pd.read_csv(shared_data / "carbon/uk_eso_2021/GB_ESO_2021.csv", dtype=str)
    source = pd.DataFrame({
        "datetime": pd.to_datetime(eso["timestamp_utc"]).dt.strftime("%Y-%m-%d %H:%M:%S+00:00"),
        "carbon_intensity_production_avg": eso["carbon_intensity_g_per_kwh"],
        "Forecast Carbon Intensity (gCO2/kWh)": eso["forecast_g_per_kwh"],
        "Index": eso["intensity_index"]})
    extra = pd.DataFrame({"datetime": ["2021-04-19 18:30:00+00:00", "2021-12-25 00:00:00+00:00"],
                          "carbon_intensity_production_avg": ["150", ""],
                          "Forecast Carbon Intensity (gCO2/kWh)": ["140", "120"],
                          "Index": ["moderate", "low"]})  # off-grid stamp and empty actual: dropped
    source = pd.concat([source, extra]).sort_values("datetime")
    eso_entry = entries["carbon/uk_eso_2021/GB_ESO_2021.csv"]
    files[eso_entry.url(None, "https://x")] = source.to_csv(index=False).encode()
    eia = pd.read_csv(shared_data / "carbon/eia930_2022/eia930_dcrl_2022.csv", dtype=str)
    eia_entry = entries["carbon/eia930_2022/eia930_dcrl_2022.csv"]
    for ba in ("AZPS", "BPAT", "CISO", "ERCO", "MISO", "NYIS", "PJM", "SOCO"):
        part = eia[eia["zone"] == f"US-EIA-{ba}"]
        src = pd.DataFrame({"timestamp": pd.to_datetime(part["timestamp_utc"]).dt.strftime(
            "%Y-%m-%d %H:%M:%S+00:00"), "WND": 0.0, "SUN": 0.0, "WAT": 0.0, "OIL": 0.0,
            "NG": part["total_generation_mwh"].astype(float), "COL": 0.0, "NUC": 0.0,
            "OTH": 0.0, "avg_CI": part["carbon_intensity_g_per_kwh"]})
        url = eia_entry.url(f"data/CarbonIntensity/{ba}_NG_&_avgCI.csv", "https://x")
        files[url] = src.to_csv(index=False).encode()
    table = download(tmp_path, "carbon/", opener=_serve(files), base_url="https://x")
    status = table.set_index("path")["status"]
    assert status["carbon/uk_eso_2021/GB_ESO_2021.csv"] == "rebuilt"
    assert status["carbon/eia930_2022/eia930_dcrl_2022.csv"] == "rebuilt"
    assert _sha(tmp_path / "carbon/uk_eso_2021/GB_ESO_2021.csv") == eso_entry.sha256
    # sources not served -> per-file failures, nothing written for them
    assert status["carbon/electricitymaps/DE.csv"] == "failed"
    assert not (tmp_path / "carbon/electricitymaps").exists()

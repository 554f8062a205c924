"""What every figure shares: colours, protocol styles, footnotes, grouped bars with
intervals, and :func:`save` (PDF and PNG written atomically, without timestamps)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clover.analysis.aggregate import (  # noqa: E402
    SCHEME_LABEL,
    SCHEME_ORDER,
    embodied_savings,
    protocols,
    select,
)
from clover.analysis.stats import t_interval  # noqa: E402
from clover.errors import CloverError  # noqa: E402
from clover.paths import atomic_write  # noqa: E402

COLORS = {"base": "#7f7f7f", "co2opt": "#2ca02c", "jung": "#9467bd", "blover": "#ff7f0e",
          "clover": "#1f77b4", "oracle": "#d62728", "static": "#8c564b",
          "static-daily": "#e377c2"}
#: How each protocol is drawn: the paper's own experiment solid, the extension hatched / dashed.
PROTOCOL_STYLE = {"paper": {"hatch": "", "ls": "-", "alpha": 1.0},
                  "extended": {"hatch": "///", "ls": "--", "alpha": 0.55}}
plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "legend.fontsize": 8,
                     "svg.hashsalt": "clover", "figure.dpi": 100})


def _schemes(df: pd.DataFrame) -> list[str]:
    present = set(df["scheme"])
    return [s for s in SCHEME_ORDER if s in present]


def _source_note(df: pd.DataFrame) -> str:
    sources = sorted({s for v in df["source"].dropna() for s in str(v).split("+")})
    kind = ("modeled per-slice profiles (analytical model, not measured)"
            if any(s == "modeled" for s in sources) else "measured per-slice profiles")
    backend = "+".join(sorted({str(b) for b in df["backend"].dropna()})) if "backend" in df else ""
    return f"Profiles: {kind} [{'+'.join(sources)}]; backend: {backend or 'model'}."


def _footnote(fig, df: pd.DataFrame, extra: str = "") -> None:
    """Where the numbers come from (modeled or measured profiles, backend) and ``extra``."""
    fig.text(0.01, 0.005, _source_note(df) + (" " + extra if extra else ""), fontsize=7,
             ha="left", va="bottom", color="#444444", wrap=True)


def _main(df: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Main-grid rows (hourly or per run) at the main λ, no floor, every protocol."""
    return select(df, grid="main", lam=lam, floor="none")


def _protocol_note(df: pd.DataFrame) -> str:
    present = protocols(df)
    if len(present) > 1:
        return "Protocols: " + ", ".join(
            f"{p} ({'solid' if PROTOCOL_STYLE.get(p, {}).get('hatch', '') == '' else 'hatched/dashed'})"
            for p in present) + "."
    return f"Protocol: {present[0] if present else 'n/a'}."


def _protocol_handles(df: pd.DataFrame) -> list:
    """Legend proxies telling the protocols apart (none when only one is present)."""
    from matplotlib.patches import Patch

    present = protocols(df) if "protocol" in df else []
    if len(present) < 2:
        return []
    return [Patch(facecolor="#999999", hatch=PROTOCOL_STYLE.get(p, {}).get("hatch", ""),
                  edgecolor="white", label=f"{p} protocol") for p in present]


def _grouped_bars(ax, table: pd.DataFrame, value: str, err_lo=None, err_hi=None) -> None:
    """Bars: x = app, one bar per scheme (and per protocol: paper solid, extended hatched)."""
    apps = list(dict.fromkeys(table["app"]))
    schemes = _schemes(table)
    present = protocols(table) if "protocol" in table else [None]
    n = max(len(schemes) * len(present), 1)
    width = 0.8 / n
    x = np.arange(len(apps))
    for i, s in enumerate(schemes):
        for j, p in enumerate(present):
            t = table[(table["scheme"] == s) & ((table["protocol"] == p) if p else True)]
            t = t.set_index("app").reindex(apps)
            yerr = None
            if err_lo is not None:
                yerr = np.vstack([(t[value] - t[err_lo]).clip(lower=0).fillna(0),
                                  (t[err_hi] - t[value]).clip(lower=0).fillna(0)])
            style = PROTOCOL_STYLE.get(p, PROTOCOL_STYLE["paper"]) if len(present) > 1 \
                else PROTOCOL_STYLE["paper"]
            k = i * len(present) + j
            label = SCHEME_LABEL.get(s, s) if j == 0 else None  # protocols: _protocol_handles
            ax.bar(x + (k - (n - 1) / 2) * width, t[value], width, yerr=yerr,
                   color=COLORS.get(s), label=label, capsize=2, error_kw={"lw": 0.7},
                   hatch=style["hatch"], edgecolor="white" if style["hatch"] else None,
                   linewidth=0)
    ax.set_xticks(x, apps)
    ax.axhline(0, color="black", lw=0.6)
    ax.grid(axis="y", alpha=0.3)


def _per_hour(h: pd.DataFrame, scheme: str, col: str) -> pd.Series:
    """``col`` of ``scheme`` per hour, mean over the traces present."""
    g = h[h["scheme"] == scheme]
    return g.groupby("hour")[col].mean()


def save(fig: plt.Figure, paths: list[str | Path]) -> None:
    """Write ``fig`` to each path (format from the suffix), atomically, without timestamps."""
    for path in paths:
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("pdf", "png", "svg"):
            raise CloverError(f"figure output {path}: use a .pdf, .png or .svg name")
        meta = {"pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
                "png": {"Software": None}, "svg": {"Date": None}}[fmt]
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, metadata=meta)
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
    plt.close(fig)


def interval_table(df: pd.DataFrame, keys: list[str], cols: dict[str, str]) -> pd.DataFrame:
    """Per ``keys`` group, for each ``name: column`` of ``cols``: ``name`` (mean),
    ``name_lo`` and ``name_hi`` (its 95 % t interval over the group's runs: seeds × traces;
    the mean itself when the group has one run)."""
    rows = []
    for k, g in df.groupby(keys, sort=False):
        row = dict(zip(keys, k if isinstance(k, tuple) else (k,)))
        for name, col in cols.items():
            iv = t_interval(g[col].to_numpy(float))
            lo = iv.lo if np.isfinite(iv.lo) else iv.mean
            hi = iv.hi if np.isfinite(iv.hi) else iv.mean
            row.update({name: iv.mean, f"{name}_lo": lo, f"{name}_hi": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def band(ax, frame: pd.DataFrame, x: str, y: str, color, ls="-", label=None, lw=1.6) -> None:
    """A line of the per-``x`` mean of ``y`` with its 95 % t interval shaded (over the rows
    that share an ``x``: traces × seeds)."""
    t = interval_table(frame, [x], {"v": y}).sort_values(x)
    ax.plot(t[x], t["v"], color=color, ls=ls, lw=lw, label=label)
    ax.fill_between(t[x], t["v_lo"], t["v_hi"], color=color, alpha=0.15, lw=0)

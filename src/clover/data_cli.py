"""``clover data``: where the data directory is, verify it by sha256, download the originals."""

from __future__ import annotations

import argparse
import os
import sys

from clover.cliutil import add_command_group, add_data_dir_option
from clover.datasets import DEFAULT_TIMEOUT_S, ENV_MIRROR, default_dest, download, verify
from clover.errors import CloverError
from clover.paths import ENV_DATA, atomic_write, candidate_data_dirs, resolve_data_dir


def _where(args: argparse.Namespace) -> int:
    chosen = resolve_data_dir(args.data_dir)
    reason = None
    print(f"{chosen}")
    print("resolution order (first match wins):")
    if not args.data_dir:
        print("  - --data-dir / config data_dir: not given")
    if not os.environ.get(ENV_DATA):
        print(f"  - env {ENV_DATA}: not set")
    for why, path in candidate_data_dirs(args.data_dir):
        exists = path.is_dir()
        mark = ""
        if reason is None and (exists or why.startswith(("config", "env"))) \
                and path.resolve() == chosen:
            reason, mark = why, "  <- used"
        print(f"  - {why}: {path} ({'exists' if exists else 'missing'}){mark}")
    if reason is None:
        reason = "data/external (fallback; fill it with `clover data download`)"
    print(f"reason: {reason}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    table = verify(args.data_dir, args.manifest, only=args.only)
    counts = table["status"].value_counts()
    by = {k: table[table["status"] == k] for k in ("mismatch", "missing", "absent", "unreadable")}
    print(f"data directory: {table.attrs['data_dir']}")
    print(f"manifest: {table.attrs['manifest']}")
    for row in by["mismatch"].itertuples(index=False):
        print(f"MISMATCH {row.path}: sha256 {row.actual_sha256}, expected {row.expected_sha256}")
    for row in by["missing"].itertuples(index=False):
        print(f"MISSING  {row.path}")
    for row in by["unreadable"].itertuples(index=False):
        print(f"UNREADABLE {row.path}: {row.actual_sha256}")
    for path in table.attrs["disagree"]:
        print(f"DISAGREE {path}: manifest row differs from data/download_manifest.tsv")
    if args.verbose:
        for row in by["absent"].itertuples(index=False):
            print(f"absent   {row.path}")
    absent = f", {counts.get('absent', 0)} not downloaded" if counts.get("absent", 0) else ""
    print(f"{counts.get('ok', 0)} ok, {counts.get('mismatch', 0)} mismatched, "
          f"{counts.get('missing', 0)} missing{absent} (of {len(table)} in the manifest)")

    def _few(paths) -> str:
        paths = list(paths)
        return f"{', '.join(paths[:5])}{' ...' if len(paths) > 5 else ''}"

    problems = []
    if len(by["mismatch"]):
        problems.append(f"{len(by['mismatch'])} file(s) differ from the manifest: "
                        f"{_few(by['mismatch']['path'])}")
    if len(by["missing"]):
        problems.append(f"{len(by['missing'])} listed file(s) missing: "
                        f"{_few(by['missing']['path'])}")
    if len(by["unreadable"]):
        first = by["unreadable"].iloc[0]
        problems.append(f"{len(by['unreadable'])} file(s) unreadable: {first['path']} "
                        f"({first['actual_sha256']})")
    if table.attrs["disagree"]:
        problems.append(f"{len(table.attrs['disagree'])} manifest row(s) disagree with "
                        f"data/download_manifest.tsv: {_few(table.attrs['disagree'])}")
    if problems:
        raise CloverError("; ".join(problems))
    return 0


def _download(args: argparse.Namespace) -> int:
    dest = args.dest or default_dest()

    def progress(path: str) -> None:
        if args.verbose:
            print(f"... {path}", file=sys.stderr)

    table = download(dest, args.only, manifest=args.manifest, base_url=args.base_url,
                     timeout_s=args.timeout, progress=progress)
    if args.report:
        with atomic_write(args.report) as fh:
            table.to_csv(fh, sep="\t", index=False, lineterminator="\n")
    for row in table.itertuples(index=False):
        if row.status != "present" or args.verbose:
            print(f"{row.status:<13} {row.path}  ({row.detail})")
    counts = table["status"].value_counts()
    print(f"into {table.attrs['dest']}: " + ", ".join(f"{counts[s]} {s}" for s in
          ("downloaded", "rebuilt", "present", "needs-curated", "failed") if s in counts))
    curated = table[table["status"] == "needs-curated"]
    if len(curated):
        print(f"{len(curated)} file(s) cannot be downloaded (curated or summarised by the "
              "dataset authors): use the curated data directory (CLOVER_DATA) for them")
    failed = table[table["status"] == "failed"]
    if len(failed):
        first = failed.iloc[0]
        raise CloverError(f"{len(failed)} file(s) failed, none of them written; first: "
                          f"{first['path']}: {first['detail']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    dsub = add_command_group(sub, "data", "data directory: where, verify (sha256), download")

    where = dsub.add_parser("where", help="print the data directory in use and why")
    add_data_dir_option(where, help="an explicit data directory (default: config data_dir)")
    where.set_defaults(func=_where)

    ver = dsub.add_parser("verify", help="check every manifest file present by sha256")
    add_data_dir_option(ver, help="data directory (default: config data_dir, else resolved)")
    ver.add_argument("--manifest", default=None,
                     help="manifest TSV (default: the data directory's MANIFEST.tsv, else "
                          "data/download_manifest.tsv)")
    ver.add_argument("--only", default=None, metavar="PATTERN",
                     help="with a partial download (data/external): files under PATTERN "
                          "(glob or path prefix) must be present; others may be absent")
    ver.add_argument("-v", "--verbose", action="store_true",
                     help="also list files not downloaded")
    ver.set_defaults(func=_verify)

    down = dsub.add_parser("download", help="fetch the public originals and check sha256")
    down.add_argument("--dest", default=None, help="target directory (default data/external)")
    down.add_argument("--only", default=None, metavar="PATTERN",
                      help="glob (carbon/clover/*) or path prefix (carbon/) of manifest paths")
    down.add_argument("--manifest", default=None,
                      help="manifest TSV (default data/download_manifest.tsv)")
    down.add_argument("--base-url", default=None,
                      help=f"replace https://github.com (a mirror; default ${ENV_MIRROR})")
    down.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                      help="seconds per request")
    down.add_argument("--report", default=None,
                      help="also write the per-file status table (TSV) here")
    down.add_argument("-v", "--verbose", action="store_true", help="list every file")
    down.set_defaults(func=_download)

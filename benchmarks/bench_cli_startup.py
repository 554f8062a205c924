"""Start-up time of the ``clover`` command: ``clover --help`` (built from
``clover.cli.COMMAND_HELP``, importing no command package), ``clover COMMAND --help`` for a
few commands (imports only that command's package) and, for comparison, the full parser every
package registers into (what ``clover --help`` cost before issue 22: ~1-2 s). Prints the best
wall time of a fresh interpreter per case and the ratio to the full parser; no asserts
(target from issue 22: ``clover --help`` under 0.3 s).

    python benchmarks/bench_cli_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import _common

CASES = {
    "clover --help": "from clover.cli import main; main(['--help'])",
    "clover run --help": "from clover.cli import main; main(['run', '--help'])",
    "clover carbon show --help": "from clover.cli import main; main(['carbon', 'show', '--help'])",
    "full parser (all packages)": "from clover.cli import build_parser; build_parser()",
}


def best_of(code: str, repeat: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(_common.REPO / "src"))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                       check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times = {name: best_of(code, args.repeat) for name, code in CASES.items()}
    full = times["full parser (all packages)"]
    bare = best_of("pass", args.repeat)
    print(f"{'case':<28} {'best s':>7} {'x full':>7}   (bare interpreter {bare:.3f} s)")
    for name, seconds in times.items():
        print(f"{name:<28} {seconds:>7.3f} {seconds / full:>7.2f}")


if __name__ == "__main__":
    main()

"""``clover run --backend live``: SIGTERM takes the Ctrl-C path, as ``clover live`` does."""

from __future__ import annotations

import argparse
import os
import signal

from clover.control.cli import _sigterm_like_ctrl_c_when_live
from clover.serve.safety import EXIT_SIGTERM


def test_live_run_turns_sigterm_into_an_orderly_exit(capsys):
    cleaned = []

    def work(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread at once
            return 0
        finally:
            cleaned.append(True)  # the with/finally of the live service unwinds

    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = _sigterm_like_ctrl_c_when_live(work)(argparse.Namespace(backend="live"))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == EXIT_SIGTERM == 143 and cleaned == [True]
    assert capsys.readouterr().err == "clover: terminated (SIGTERM); service stopped\n"


def test_simulated_run_installs_no_handler():
    before = signal.getsignal(signal.SIGTERM)
    assert _sigterm_like_ctrl_c_when_live(lambda a: 7)(argparse.Namespace(backend="model")) == 7
    assert signal.getsignal(signal.SIGTERM) is before

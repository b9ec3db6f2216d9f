"""Ending the processes tests start (editors, engines), so that none outlives its test."""

from __future__ import annotations

import subprocess


def end_process(process: subprocess.Popen, grace_s: float, *, terminate: bool = True) -> None:
    """Ask ``process`` to exit (SIGTERM; ``terminate=False``: it was asked some other way), give it ``grace_s``
    seconds, then kill it."""
    if terminate and process.poll() is None:
        process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)

"""The classifier trained (or loaded from its cache) in a child process that dies with the center."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kubeprobe.analysis.classifier import Classifier, cached_classifier
from kubeprobe.analysis.texts import LabeledFailure
from kubeprobe.runners.launch import PR_SET_PDEATHSIG


def _die_with(parent: int) -> None:
    """In the training process: die with the center (``PR_SET_PDEATHSIG``), even by ``kill -9``;
    an orphaned pool worker otherwise waits on its queue forever."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the center died before the request above took hold
        os._exit(1)


async def train_apart(extra: list[LabeledFailure], cache_dir: Path | None) -> Classifier:
    """The classifier, trained (or loaded from ``cache_dir``) in a child process.

    Training takes seconds of CPU, most of it holding the interpreter lock: in a thread it took
    turns with the event loop every 5 ms, and /healthz p99 went from 6 ms to hundreds while the
    first failed run of a center was analysed (bench/hostile.py). Only unpickling the result
    (some 30 ms for 3 MB) happens here.
    """
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with,
        initargs=(os.getpid(),),
    )
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, cached_classifier, extra, cache_dir)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

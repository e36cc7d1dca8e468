"""The local runner's launcher: a case's process group dies with the center that started it.

Run as ``python -I launch.py CENTER_PID ARGV...`` (stdlib only, no KubeProbe import: it starts in
milliseconds). The local runner starts it as the leader of a new session and process group; it
asks Linux to send it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), checks that the parent
is still the center (it may have died before that request), then forks and execs the case in the
same process group and waits for it. On SIGTERM (the center died, even by ``kill -9``) it kills its
whole process group: the case and anything the case started. The case's exit code is its own;
killed by a signal N, it is 128 + N; a case that cannot be started exits with 3 ("could not run").
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1
EXIT_COULD_NOT_RUN = 3


def _kill_group(signum: int, frame: FrameType | None) -> None:
    os.killpg(0, signal.SIGKILL)


def main(args: list[str]) -> int:
    if len(args) < 2:
        print("usage: launch.py CENTER_PID ARGV...", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    center, argv = int(args[0]), args[1:]
    signal.signal(signal.SIGTERM, _kill_group)
    signal.signal(signal.SIGHUP, _kill_group)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != center:
        return EXIT_COULD_NOT_RUN  # the center died before the request above took hold
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        os._exit(EXIT_COULD_NOT_RUN)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

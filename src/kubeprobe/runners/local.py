"""The local runner: a case as a subprocess on this machine, with the contract's environment and a kubeconfig.

Built-in templates run as ``python -m kubeprobe.cases TEMPLATE``; a Python entry point
(``package.module:function``) is imported and called; otherwise the case's command runs as is.
Sandbox pods never run containers, so this is how the demo and the tests execute case code.

A case is untrusted code as far as the center is concerned. It gets the contract's variables, its
rendered parameters, ``KUBECONFIG`` (a private copy of the cluster's self-contained kubeconfig,
checked like the center checks it), ``HOME`` (its own temporary folder) and only the variables of
:data:`ENV_ALLOWLIST` from the center's environment: never the center's secrets
(``KUBEPROBE_SECRET_KEY``, ``KUBEPROBE_ADMIN_TOKEN`` ...). It runs in its own session and process
group under :mod:`kubeprobe.runners.launch`, which kills the whole group when the center dies; at
its deadline or on cancellation the runner kills the whole group too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import KubeConfigError
from kubeprobe.runners import launch
from kubeprobe.runners.base import MAX_LOG_BYTES, RunEnd, RunnerError, RunRequest

log = logging.getLogger(__name__)
#: Exit code of ``python -m kubeprobe.cases`` for "could not run" (see kubeprobe.cases.__main__).
EXIT_COULD_NOT_RUN = launch.EXIT_COULD_NOT_RUN
#: What a case inherits from the center's environment, by name; everything else stays behind.
ENV_ALLOWLIST = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip


def command_for(request: RunRequest, builtin_templates: frozenset[str]) -> list[str]:
    case = request.case
    if case.template in builtin_templates:
        return [sys.executable, "-m", "kubeprobe.cases", case.template]
    if case.entry_point:
        module, _, func = case.entry_point.partition(":")
        if not module or not func:
            raise RunnerError(f"case {case.name}: entry point {case.entry_point!r} is not 'module:function'")
        return [sys.executable, "-c", f"import {module} as m; m.{func}()"]
    if case.command:
        return list(case.command)
    raise RunnerError(f"case {case.name} has neither an entry point nor a command to run locally")


class LocalRunner:
    """Runs cases as subprocesses; at most ``concurrency`` at once."""

    def __init__(
        self,
        builtin_templates: frozenset[str] = frozenset(),
        concurrency: int = 8,
        env_allowlist: Iterable[str] = ENV_ALLOWLIST,
    ) -> None:
        self.builtin_templates = builtin_templates
        self.env_allowlist = frozenset(env_allowlist)
        self._slots = asyncio.Semaphore(concurrency)

    def environment(self, request: RunRequest, kubeconfig: Path, home: str) -> dict[str, str]:
        """The case's whole environment: the allowlisted variables, then the contract's."""
        env = {name: value for name, value in os.environ.items() if name in self.env_allowlist}
        return {**env, "HOME": home, **request.contract_env(), "KUBECONFIG": str(kubeconfig)}

    async def run(self, request: RunRequest) -> RunEnd:
        argv = command_for(request, self.builtin_templates)
        if request.kubeconfig:
            try:  # as the center checks it: a stored one from before that check names no file
                parse_kubeconfig(request.kubeconfig, source=f"cluster {request.cluster} kubeconfig")
            except KubeConfigError as exc:
                return RunEnd("error", str(exc))
        async with self._slots:
            # Made and removed off the event loop: a case may leave many files behind.
            tmp = await asyncio.to_thread(tempfile.mkdtemp, prefix="kubeprobe-run-")
            try:
                kubeconfig = Path(tmp, "kubeconfig")
                await asyncio.to_thread(_write_private, kubeconfig, request.kubeconfig)
                return await self._execute(request, argv, self.environment(request, kubeconfig, tmp), tmp)
            finally:
                await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True))

    async def _execute(self, request: RunRequest, argv: list[str], env: dict[str, str], cwd: str) -> RunEnd:
        launcher = [sys.executable, "-I", launch.__file__, str(os.getpid())]
        try:
            proc = await asyncio.create_subprocess_exec(
                *launcher,
                *argv,
                env=env,
                cwd=cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return RunEnd("error", f"cannot start {argv[0]}: {exc.strerror or exc}")
        remaining = (request.deadline - dt.datetime.now(dt.UTC)).total_seconds()
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                output, _ = await proc.communicate()
        except TimeoutError:
            _kill_group(proc)
            output = await _drain(proc)
            log.warning(
                "run %s case %s cluster %s: killed at its deadline",
                request.run_id,
                request.case.name,
                request.cluster,
            )
            return RunEnd(
                "timed_out",
                "the case did not finish before its deadline and was killed",
                proc.returncode,
                _tail(output),
            )
        except asyncio.CancelledError:
            _kill_group(proc)
            await _drain(proc)
            raise
        logs = _tail(output)
        if proc.returncode == EXIT_COULD_NOT_RUN:
            reason = logs.strip().splitlines()[-1] if logs.strip() else "the case could not run"
            return RunEnd("error", reason, proc.returncode, logs)
        return RunEnd("exited", f"exit code {proc.returncode}", proc.returncode, logs)


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """The launcher leads the case's process group: kill all of it (the case's children too)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _drain(proc: asyncio.subprocess.Process) -> bytes:
    try:
        async with asyncio.timeout(5):
            output, _ = await proc.communicate()
            return output or b""
    except TimeoutError:
        return b""


def _tail(output: bytes | None) -> str:
    data = output or b""
    if len(data) > MAX_LOG_BYTES:
        data = b"[...]\n" + data[-MAX_LOG_BYTES:]
    return data.decode(errors="replace")

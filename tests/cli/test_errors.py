"""The CLI's error boundary: known errors become one message line, whatever text they carry."""

from __future__ import annotations

import pytest

from kubeprobe.cli import main as cli_main
from kubeprobe.sandbox.errors import SandboxError


def test_error_text_with_brackets_is_printed_verbatim(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A kubelet log line quoted in a startup error: rich would read it as markup and crash.
    text = "kubelet exited: [/dev/shm:{mountpoint:/dev/shm}] [bold]x[/]"

    def boom() -> None:
        raise SandboxError(text)

    monkeypatch.setattr(cli_main, "build", lambda names: boom)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main()
    assert exit_info.value.code == 1
    assert text in capsys.readouterr().err.replace("\n", "")


def test_only_the_command_being_run_is_imported() -> None:
    """`kubeprobe inspect` must not pay for the center's database stack (SQLAlchemy, Alembic)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['kubeprobe', 'inspect', '--help']\n"
        "from kubeprobe.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"

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

    monkeypatch.setattr(cli_main, "app", boom)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main()
    assert exit_info.value.code == 1
    assert text in capsys.readouterr().err.replace("\n", "")

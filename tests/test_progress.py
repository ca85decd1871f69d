"""Progress of long commands: bars at a terminal (a real pty), nothing in a pipe, and a
summary at the end — counts, time, where — never the data.

``tillgw journal verify`` and ``export`` run as real processes on the recorded release
journal; the master-data sync's summary is in tests/sync/test_masterdata.py.
"""

from __future__ import annotations

import io
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.progress import RichProgress, progress_display, shows_progress
from gateway.common.progress import NO_PROGRESS
from tests.fiscal.test_release_journal import ENTRIES, RECORDINGS, RELEASE

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    folder.mkdir()
    shutil.copyfile(RECORDINGS / f"{RELEASE}.db", folder / "till.db")
    return folder


def tillgw_args(*args: str) -> list[str]:
    """``tillgw ARGS`` in English, the words these tests read."""
    return [sys.executable, "-m", "gateway.cli", "--language", "en", *args]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100"}


def run_in_pipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tillgw_args(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
        check=False,
    )


def run_under_pty(*args: str, cwd: Path) -> tuple[int, str]:
    """The command with a pseudo-terminal as stdin, stdout and stderr, as a technician runs it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        tillgw_args(*args), cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=environment()
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=120), seen.decode(errors="replace")


def test_verify_in_a_pipe_prints_its_summary_and_no_bar(data_dir: Path, tmp_path: Path) -> None:
    key = str(RECORDINGS / f"{RELEASE}.pub.pem")
    done = run_in_pipe("journal", "verify", "--data-dir", str(data_dir), "--public-key", key, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK: {ENTRIES} entries, the chain holds")
    assert re.search(rf"{re.escape(str(data_dir / 'till.db'))} checked in \d+\.\d s", done.stdout)
    assert "\x1b" not in done.stdout + done.stderr and "entries checked" not in done.stderr


def test_verify_at_a_terminal_shows_its_progress_then_the_summary(data_dir: Path, tmp_path: Path) -> None:
    key = str(RECORDINGS / f"{RELEASE}.pub.pem")
    code, screen = run_under_pty(
        "journal", "verify", "--data-dir", str(data_dir), "--public-key", key, cwd=tmp_path
    )
    assert code == 0, screen
    plain = ANSI.sub("", screen)
    assert "journal entries checked" in plain and f"{ENTRIES}/{ENTRIES}" in plain
    assert f"OK: {ENTRIES} entries" in plain


def test_an_export_says_what_it_wrote_where_and_how_long_it_took(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    done = run_in_pipe(
        "journal",
        "export",
        "--data-dir",
        str(data_dir),
        "--format",
        "jsonl",
        "--from",
        "2000-01-01",
        "--to",
        "2099-12-31",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"{re.escape(str(out))}: {ENTRIES} journal entries; \d+\.\d s\n", done.stdout)
    assert done.stderr == ""


def test_an_export_at_a_terminal_counts_the_entries_it_writes(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    code, screen = run_under_pty(
        "journal",
        "export",
        "--data-dir",
        str(data_dir),
        "--format",
        "jsonl",
        "--from",
        "2000-01-01",
        "--to",
        "2099-12-31",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert code == 0, screen
    plain = ANSI.sub("", screen)
    assert "journal entries written" in plain and f"{out}: {ENTRIES} journal entries" in plain


def test_the_display_is_silent_unless_both_streams_are_terminals() -> None:
    assert not shows_progress(io.StringIO(), io.StringIO())
    with progress_display(show=False) as progress:
        assert progress is NO_PROGRESS
    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            assert shows_progress(terminal, terminal)
            assert not shows_progress(terminal, io.StringIO())
    finally:
        os.close(master)
        os.close(slave)


def test_a_stage_of_unknown_length_ends_at_its_count() -> None:
    stream = io.StringIO()
    with progress_display(show=True, stream=stream) as progress:
        assert isinstance(progress, RichProgress)
        progress.stage("articles read")
        progress.advance(3)
        progress.stage("revision published to the tills", total=2)
        progress.advance(2)
        first, second = progress.display.tasks
        assert (first.completed, first.total) == (3, 3)
        assert (second.completed, second.total) == (2, 2)


def test_a_backup_shows_its_stages_at_a_terminal_and_only_its_summary_in_a_pipe(
    data_dir: Path, tmp_path: Path
) -> None:
    # The recording keeps only the key's public half: replace it the documented way, so that
    # the backup holds a key to sign on with.
    rotated = run_in_pipe(
        "journal", "rotate-key", "--data-dir", str(data_dir), "--reason", "test", cwd=tmp_path
    )
    assert rotated.returncode == 0, rotated.stderr
    code, screen = run_under_pty(
        "backup", str(tmp_path / "at-a-terminal"), "--data-dir", str(data_dir), cwd=tmp_path
    )
    assert code == 0, screen
    plain = ANSI.sub("", screen)
    assert "databases copied" in plain and "files checked" in plain and "journal entries checked" in plain
    assert re.search(r"OK: .* files, checked; journal entry \d+ .*\(\d+\.\d s\)", plain)

    done = run_in_pipe("backup", str(tmp_path / "in-a-pipe.tar"), "--data-dir", str(data_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("OK: ")
    assert "\x1b" not in done.stdout + done.stderr and "copied" not in done.stderr

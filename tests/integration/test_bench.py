"""``veo bench tickets`` runs end to end with a small count (figures printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veo.bench.main import main, parser
from veo.cli import COMMANDS


def test_bench_tickets_small_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(
        ["tickets", "--count", "300", "--runs", "2", "--database-url", "sqlite://", "--json", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "sqlite" in printed and "reports ms" in printed
    figures = json.loads(out.read_text())
    (result,) = figures["results"]
    assert result["database"] == "sqlite" and result["tickets"] == 300
    assert set(result["median_ms"]) == {
        "list",
        "search",
        "search_rare",
        "reports",
        "reports_cold",
        "reports_after_change",
    }
    assert all(len(samples) == 2 for samples in result["samples_ms"].values())
    print(printed)  # the figures, for whoever reads the test log


@pytest.mark.postgres
def test_bench_tickets_small_on_postgresql(
    postgres_session_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # postgres_session_url only proves the server is there (or skips); the bench makes its own database.
    from veo.bench.databases import DEFAULT_POSTGRES

    assert main(["tickets", "--count", "200", "--runs", "1", "--database-url", DEFAULT_POSTGRES]) == 0
    assert "postgresql" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["tickets", "--count", "0"],
        ["tickets", "--count", "many"],
        ["tickets", "--runs", "-1"],
        ["tickets", "--database-url", "mysql://x"],
        ["tickets", "--database-url", "not a url"],
        [],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bench_is_a_veo_command() -> None:
    assert COMMANDS["bench"][0] == "veo.bench.main"

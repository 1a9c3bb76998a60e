"""`mlts seed` as a person runs it, against the session's MongoDB."""

from pathlib import Path

from typer.testing import CliRunner

from mlts.cli import app

runner = CliRunner()


def test_seed_reports_written_and_rejected_rows(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("timestamp,value,sensor_id\n2024-01-01T00:00:00Z,1,a\nbad,2,a\n2024-01-01T02:00:00Z,x,a\n")
    result = runner.invoke(app, ["seed", "--csv", str(path), "--collection", "r"])
    assert result.exit_code == 0, result.output
    assert "3 rows read, 1 written" in result.output and "2 rejected" in result.output
    assert "line 3: timestamp 'bad'" in result.output
    assert "line 4: value 'x' is not a finite number" in result.output
    assert mongo_db.r.count_documents({}) == 1


def test_seed_refuses_a_bad_collection_name(mongo_db, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("timestamp,value\n2024-01-01T00:00:00Z,1\n")
    result = runner.invoke(app, ["seed", "--csv", str(path), "--collection", "a$b"])
    assert result.exit_code == 1
    assert "collection_name must be" in result.output

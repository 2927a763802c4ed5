"""The papers' measured claims stored in assets/papers.json are what a fresh measurement gives now."""

from cvcore.papers.registry import PAPERS, paper_rows
from cvcore.papers.stored import row_from_dict, stored_rows, write_stored_rows


def test_stored_rows_match_a_fresh_measurement_of_every_paper():
    """Fails when claims, models or counting change without `python -m cvcore models --write-snapshot`."""
    for key in PAPERS:
        assert stored_rows(key) == paper_rows(key), f"assets/papers.json is stale for {key}: run models --write-snapshot"


def test_rows_round_trip_and_unknown_papers_are_not_stored(tmp_path, monkeypatch):
    from cvcore.formatting import to_jsonable

    row = paper_rows("lectures")[0]
    assert row_from_dict(to_jsonable(row)) == row
    assert stored_rows("no such paper") is None
    path = tmp_path / "papers.json"
    assert write_stored_rows(path) == sum(len(paper_rows(k)) for k in PAPERS) and path.is_file()

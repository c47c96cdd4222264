"""``polyroute calibrate``, ``replay`` and ``feedback import`` on a real SQLite decision log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyroute.cli import main
from polyroute.routers import BaseRouter
from polyroute.traffic import SQLiteLogStore


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code, out, _ = _run(capsys, *argv, "--json")
    return code, json.loads(out)


def test_calibrate_on_the_log_meets_a_cost_target(capsys, log_path: Path) -> None:
    # logged traffic at λ = 0 costs 1.5 × (0.01 + 0.005) / 2 × 1000 = $11.25 per 1k
    code, free = _json(capsys, "calibrate", "--log", str(log_path), "--min-quality", "0.9")
    assert code == 0 and free["cost_weight"] == 0.0
    assert free["predicted_cost_per_1k_usd"] == pytest.approx(11.25)
    code, tight = _json(capsys, "calibrate", "--log", str(log_path), "--target-cost-per-1k", "8")
    assert code == 0 and tight["met"] and tight["cost_weight"] > 0
    assert tight["predicted_cost_per_1k_usd"] <= 8.0
    assert tight["predicted_quality"] < free["predicted_quality"]
    assert tight["share"].get("cheap", 0) > 0


def test_calibrate_to_a_share_and_an_unreachable_target(capsys, log_path: Path) -> None:
    code, out = _json(capsys, "calibrate", "--log", str(log_path), "--target-share", "poet=0.5")
    assert code == 0 and out["share"]["poet"] == 0.5 and out["met"]
    # two prompt clusters: the poet's share is 0.5 or 0, never 0.25
    code, out = _json(capsys, "calibrate", "--log", str(log_path), "--target-share", "poet=0.25")
    assert code == 1 and not out["met"] and out["share"].get("poet", 0.0) in (0.0, 0.5)
    code, text, _ = _run(
        capsys, "calibrate", "--log", str(log_path), "--target-cost-per-1k", "0.0001"
    )
    assert code == 1 and "NOT met" in text
    code, _, err = _run(capsys, "calibrate", "--log", str(log_path), "--target-share", "math-pro")
    assert code == 2 and "MODEL=SHARE" in err
    code, _, err = _run(capsys, "calibrate", "--log", str(log_path), "--target-share", "gpt-9=0.2")
    assert code == 2 and "gpt-9" in err and "math-pro" in err


def test_calibrate_on_a_prompt_file(capsys, tmp_path: Path, tiny_router: BaseRouter) -> None:
    tiny_router.save(tmp_path / "router")
    lines = [json.dumps({"prompt": p}) for p in ["solve x + 1 = 2", "write a poem"] * 10]
    (tmp_path / "p.jsonl").write_text("\n".join(lines), encoding="utf-8")
    code, out = _json(
        capsys,
        "calibrate",
        "--prompts",
        str(tmp_path / "p.jsonl"),
        "--router-dir",
        str(tmp_path / "router"),
        "--encoder",
        "hashing",
        "--costs",
        "math-pro=0.01,poet=0.005,cheap=0.0001",
        "--target-share",
        "cheap=1.0",
    )
    assert code == 0 and out["share"] == {"cheap": 1.0}
    code, _, err = _run(capsys, "calibrate", "--prompts", "p.txt", "--min-quality", "0.5")
    assert code == 2 and "--router-dir" in err


def test_replay_labels_every_figure_with_its_source(
    capsys, tmp_path: Path, log_path: Path, tiny_router: BaseRouter
) -> None:
    tiny_router.save(tmp_path / "router")
    args = ["replay", "--log", str(log_path), "--router", str(tmp_path / "router")]
    code, same = _json(capsys, *args)
    assert code == 0 and same["n_requests"] == 200 and same["cost_weight"].startswith("each")
    assert same["replayed"]["share"] == same["logged"]["share"]
    fb = same["replayed"]["quality"][1]
    assert fb["source"].startswith("logged feedback") and fb["n"] == 100 and fb["value"] == 1.0
    assert same["logged"]["cost_per_1k_usd"]["source"] == "usage × prices"
    code, thrifty = _json(capsys, *args, "--cost-weight", "5")
    assert thrifty["replayed"]["share"] == {"cheap": 1.0}
    assert thrifty["replayed"]["quality"][1]["n"] == 0  # no request was answered by cheap
    # cheap never answered: its estimate × the others' logged usage/estimate ratio (1.5)
    assert thrifty["replayed"]["cost_per_1k_usd"]["value"] == pytest.approx(0.0001 * 1.5 * 1000)
    code, text, _ = _run(capsys, *args, "--cost-weight", "0.3")
    assert code == 0 and "[router prediction, n=200]" in text and "[logged prices" in text


def test_feedback_import_records_scores_and_reports_unknown_ids(
    capsys, tmp_path: Path, log_path: Path
) -> None:
    (tmp_path / "g.csv").write_text("request_id,score\nr1,0.5\nnope,1\n", encoding="utf-8")
    code, out, _ = _run(
        capsys, "feedback", "import", str(tmp_path / "g.csv"), "--log", str(log_path)
    )
    assert code == 0 and "1 feedback score(s) recorded; 1 unknown" in out and "nope" in out
    (tmp_path / "g.jsonl").write_text('{"request_id": "r3", "score": 0.25}\n', encoding="utf-8")
    assert main(["feedback", "import", str(tmp_path / "g.jsonl"), "--log", str(log_path)]) == 0
    store = SQLiteLogStore(log_path)
    assert store.get("r1").feedback == 0.5 and store.get("r3").feedback == 0.25  # type: ignore[union-attr]
    (tmp_path / "bad.csv").write_text("request_id,score\nr1,1.5\n", encoding="utf-8")
    code, _, err = _run(
        capsys, "feedback", "import", str(tmp_path / "bad.csv"), "--log", str(log_path)
    )
    assert code == 2 and "score in [0, 1]" in err and "1.5" in err
    code, _, err = _run(
        capsys, "feedback", "import", str(tmp_path / "g.csv"), "--log", "missing.db"
    )
    assert code == 2 and "no such decision log" in err

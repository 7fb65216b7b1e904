import pytest

from istvt.cli import main
from istvt.config import ModelConfig
from istvt.model.flops import count_macs, flops_table, paper_results


def test_paper_size_cost():
    cost = count_macs(ModelConfig())
    # conv 16.16 + linear 219.60 G multiply-adds, read off the authors' code
    assert cost.conv / 1e9 == pytest.approx(16.16, abs=0.01)
    assert cost.linear / 1e9 == pytest.approx(219.60, abs=0.01)
    assert cost.attention / 1e9 == pytest.approx(11.49, abs=0.01)
    assert cost.params / 1e6 == pytest.approx(89.47, abs=0.01)


def test_tables_iv_and_v_within_two_percent():
    rows = flops_table()
    assert len(rows) == 12
    for row in rows:
        assert abs(row["diff_percent"]) < 2.0, row
    # the rows really vary what the table varies
    assert [r["sequence_length"] for r in rows[:6]] == [2, 4, 6, 8, 12, 16]
    assert [r["num_layers"] for r in rows[6:]] == [4, 6, 8, 12, 16, 24]
    assert rows[0]["paper_gflops"] == paper_results()["table4_sequence_length"]["gflops"][2]


def test_joint_attention_products_grow_quadratically():
    base = ModelConfig(num_layers=1, attention="joint", self_subtract=False)
    t2 = count_macs(base.replace(sequence_length=2)).attention
    t4 = count_macs(base.replace(sequence_length=4)).attention
    # joint: ((T+1)*362)^2 -> ratio (5/3)^2
    assert t4 / t2 == pytest.approx((5 / 3) ** 2, rel=1e-6)


def test_cli_prints_the_table_with_paper_column(capsys, tmp_path):
    csv = tmp_path / "flops.csv"
    assert main(["flops", "--table", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "235.76 GMACs" in out and "paper GFLOPs" in out and "| V | 6 | 24 |" in out
    assert csv.read_text().count("\n") == 13


def test_cli_reports_bad_config(capsys):
    assert main(["flops", "--attention", "joint"]) == 2
    assert "self_subtract" in capsys.readouterr().err

from __future__ import annotations

import pytest

from thinkvl.reward import RewardConfig, RewardError, RewardSystem


def test_packaged_yaml_matches_the_dataclass_defaults() -> None:
    packaged = RewardConfig.from_yaml()
    defaults = RewardConfig()
    assert packaged.limits == defaults.limits and packaged.penalties == defaults.penalties
    assert packaged.judge == defaults.judge and packaged.reward_range == defaults.reward_range
    assert set(packaged.domains) == set(defaults.domains)
    assert "caption" not in packaged.domains


def test_yaml_file_overrides(tmp_path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "reward_range: [-1, 1]\nlimits: {time_limit_s: 0.5}\ndomains:\n  chart: {options: {rel_tol: 0.1}}\n"
    )
    cfg = RewardConfig.from_yaml(path)
    assert cfg.reward_range == [-1, 1] and cfg.limits.time_limit_s == 0.5
    assert cfg.domains["chart"].options == {"rel_tol": 0.1} and cfg.domains["chart"].verifier == "chart"
    assert "math" in cfg.domains  # merged over the defaults


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limits": {"time_limt_s": 1}}, "unknown key.*time_limt_s"),
        ({"reward_range": [1, 0]}, "reward_range"),
        ({"judge": {"weight": 1.0}}, "never the only signal"),
        ({"limits": {"isolation": "thread"}}, "isolation"),
        ({"penalties": {"loop_weight": 2}}, "loop_weight"),
        ({"domains": {"math": {"weight": 0}}}, "weight"),
    ],
)
def test_bad_config_is_a_named_error(data: dict, message: str) -> None:
    with pytest.raises(RewardError, match=message):
        RewardConfig.from_dict(data)


def test_bad_verifier_options_fail_at_construction() -> None:
    with pytest.raises(RewardError, match=r"options \(verifier 'chart'\): unknown key\(s\) tolerance; allowed: "):
        RewardSystem({"domains": {"chart": {"options": {"tolerance": 1}}}, "limits": {"isolation": "none"}})
    with pytest.raises(RewardError, match="rel_tol"):
        RewardSystem({"domains": {"chart": {"options": {"rel_tol": 5}}}, "limits": {"isolation": "none"}})
    with pytest.raises(RewardError, match="no verifier named 'nope'"):
        RewardSystem({"domains": {"x": {"verifier": "nope"}}, "limits": {"isolation": "none"}})

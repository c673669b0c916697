"""One config loader and one flag helper: YAML + flags (flags win), values checked against the field types."""

from __future__ import annotations

import argparse

import pytest

from thinkvl.cli import build_parser, main
from thinkvl.config import (
    ConfigError,
    add_config_flags,
    config_from_args,
    field_types,
    from_mapping,
    load_config,
    section_class,
)
from thinkvl.demo import DemoConfig
from thinkvl.eval.commands import EVAL_FLAG_ALIASES
from thinkvl.eval.runner import EndpointConfig, EvalConfig
from thinkvl.rl.config import RLConfig
from thinkvl.train.config import StageConfig


def _yaml(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("freeze_vision: 'false'\n", "freeze_vision must be true or false, got 'false'"),
        ("lr: fast\n", "lr must be a number, got 'fast'"),
        ("batch_size: '2'\n", "batch_size must be an integer, got '2'"),
        ("domains: math\n", "domains must be list[str] or null, got 'math'"),
        ("domain_weights: [1, 2]\n", "domain_weights must be dict[str, float] or null, got [1, 2]"),
        ("overflow: cut\n", "overflow must be one of 'truncate', 'drop', got 'cut'"),
    ],
)
def test_yaml_values_are_checked_against_the_field_types(tmp_path, text, message):
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(StageConfig, path)
    assert str(err.value) == f"{path}: {message}"


def test_wrong_list_shape_and_nested_types_are_named():
    with pytest.raises(ConfigError, match=r"difficulty_label_range must be a list of 2 .*got \[1, 2, 3\]"):
        from_mapping(RLConfig, {"difficulty_label_range": [1, 2, 3]})
    with pytest.raises(ConfigError, match=r"tier_weights must be dict\[str, float\], got \{'medium': 'high'\}"):
        from_mapping(RLConfig, {"tier_weights": {"medium": "high"}})
    with pytest.raises(ConfigError, match="levels must be"):
        from_mapping(DemoConfig, {"levels": {"counting": ["0"]}})


def test_values_are_normalised_to_the_field_types(tmp_path):
    cfg = load_config(RLConfig, _yaml(tmp_path, "lr: 1e-5\ndifficulty_label_range: [0, 2]\nclip_eps_high: 1\n"))
    assert cfg.lr == 1e-5 and cfg.difficulty_label_range == (0, 2)
    assert isinstance(cfg.clip_eps_high, float)
    quoted = _yaml(tmp_path, "lr: '1e-5'\n")  # quoted: the file says a string, and that is an error
    with pytest.raises(ConfigError, match="lr must be a number"):
        load_config(RLConfig, quoted)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: [1\n", r"malformed YAML \(line 2, column 1\)"),
        ("- steps: 1\n", "the top level must be a mapping of field: value, got a list"),
        ("stepz: 1\n", "unknown key.*stepz; allowed:"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(StageConfig, _yaml(tmp_path, text))
    assert "\n" not in str(err.value)


def _parse(cls, argv):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, cls)
    return parser.parse_args(argv)


def _flags(cls, prefix=""):
    """Every flag a config class should have: a section's fields as --section.field."""
    for name, tp in field_types(cls).items():
        section = section_class(tp)
        yield from _flags(section, f"{prefix}{name}.") if section else [f"--{prefix}{name.replace('_', '-')}"]


def test_every_field_is_a_flag_with_its_help():
    for cls in (StageConfig, RLConfig, EvalConfig, DemoConfig):
        parser = argparse.ArgumentParser()
        add_config_flags(parser, cls)
        text = parser.format_help()
        for flag in _flags(cls):
            assert flag in text, (cls.__name__, flag)
    assert "--endpoint.request-timeout" in set(_flags(EvalConfig))
    rl = argparse.ArgumentParser()
    add_config_flags(rl, RLConfig)
    assert "Nucleus sampling for rollouts" in rl.format_help() and "2503.14476" in rl.format_help()


def test_cli_commands_show_their_config_flags(capsys):
    for command, flag in (
        ("rl", "--clip-eps-high"),
        ("grade", "--grade-k"),
        ("sft", "--freeze-vision"),
        ("pretrain", "--pack-len"),
        ("demo", "--sample-k"),
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        assert flag in capsys.readouterr().out, command
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "run", "--help"])
    assert "--budgets" in capsys.readouterr().out


def test_flags_win_over_the_yaml_and_untouched_fields_keep_it(tmp_path):
    path = _yaml(tmp_path, "freeze_vision: true\nsteps: 7\nlr: 0.01\ndomains: [math]\n")
    args = _parse(StageConfig, ["--no-freeze-vision", "--lr", "1e-4", "--domains", "chart", "ocr"])
    cfg = config_from_args(StageConfig, args, path)
    assert cfg.freeze_vision is False and cfg.lr == 1e-4 and cfg.domains == ["chart", "ocr"]
    assert cfg.steps == 7  # from the file: flags not given stay out of the overrides
    args = _parse(
        RLConfig,
        [
            "--tis-cap",
            "none",
            "--tier-weights",
            "{very_easy: 0, easy: 1, medium: 3, hard: 1, very_hard: 0}",
            "--difficulty-label-range",
            "0",
            "2",
        ],
    )
    cfg = config_from_args(RLConfig, args)
    assert cfg.tis_cap is None and cfg.tier_weights["medium"] == 3.0 and cfg.difficulty_label_range == (0, 2)
    assert config_from_args(DemoConfig, _parse(DemoConfig, ["--levels", "{chart: [1, 2]}"])).levels == {"chart": (1, 2)}
    assert config_from_args(DemoConfig, _parse(DemoConfig, ["--levels", "0", "1", "--no-rl"])).levels == (0, 1)
    with pytest.raises(ConfigError, match="batch_size must be an integer, got 'two'"):
        config_from_args(StageConfig, _parse(StageConfig, ["--batch-size", "two"]))


def test_cli_turns_config_errors_into_one_line_and_exit_2(tmp_path, capsys):
    path = _yaml(tmp_path, "stage: sft\nfreeze_vision: 'false'\n")
    assert main(["sft", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"thinkvl: error: {path}: freeze_vision must be true or false, got 'false'\n"
    assert main(["rl", str(_yaml(tmp_path, "[1, 2]\n"))]) == 2
    assert "top level must be a mapping" in capsys.readouterr().err
    assert main(["grade", "--model", "m", "--data", str(tmp_path)]) == 2
    assert "grading needs model, data and grades" in capsys.readouterr().err


ENDPOINT_YAML = "tasks: [synth]\nendpoint:\n  url: http://localhost:8000/v1\n  served_model: glm\n  concurrency: 4\n"


def test_a_section_is_a_mapping_in_yaml_and_dotted_flags_set_its_fields(tmp_path):
    path = _yaml(tmp_path, ENDPOINT_YAML)
    cfg = load_config(EvalConfig, path)
    assert cfg.endpoint == EndpointConfig("http://localhost:8000/v1", "glm", concurrency=4)
    assert load_config(EvalConfig).endpoint is None  # an optional section absent: None
    parser = argparse.ArgumentParser()
    add_config_flags(parser, EvalConfig, aliases=EVAL_FLAG_ALIASES)
    cfg = config_from_args(EvalConfig, parser.parse_args(["--endpoint.top-p", "0.5", "--max-attempts", "2"]), path)
    # flags set single fields of the section; the YAML's other fields stay
    assert (cfg.endpoint.top_p, cfg.endpoint.max_attempts, cfg.endpoint.concurrency) == (0.5, 2, 4)
    # the flags from before the section: --endpoint URL --served-model NAME --concurrency N
    args = parser.parse_args(["--endpoint", "http://h/v1", "--served-model", "m", "--concurrency", "3"])
    assert config_from_args(EvalConfig, args).endpoint == EndpointConfig("http://h/v1", "m", concurrency=3)


SECTION_ERRORS = {
    ENDPOINT_YAML + "  concurrency: many\n": "endpoint.concurrency must be an integer, got 'many'",
    ENDPOINT_YAML + "  colour: red\n": "unknown key(s) endpoint.colour; allowed: api_key_env, budget_via,",
    ENDPOINT_YAML.replace("http://", ""): "endpoint: url must be an http(s) URL, got 'localhost:8000/v1'",
    "endpoint: http://h/v1\n": "endpoint must be a mapping of url, served_model, api_key_env, ",
    "served_model: glm\n": "unknown key(s) served_model; served_model belongs in the endpoint section (endpoint:",
}


@pytest.mark.parametrize("text", SECTION_ERRORS)
def test_section_errors_name_the_section_and_field(tmp_path, text):
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(EvalConfig, path)
    assert str(err.value).startswith(f"{path}: {SECTION_ERRORS[text]}")

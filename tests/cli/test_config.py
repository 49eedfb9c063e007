"""Settings: TOML files, precedence of flags over config over task defaults, round trips."""

import pytest

from seq2seq.config import (
    SETTINGS,
    TASK_DEFAULTS,
    ConfigError,
    load_config,
    resolve_settings,
    write_config,
)


def test_precedence_flag_config_task_default():
    flags = {"epochs": 2, "hidden": None}
    config = {"epochs": 7, "hidden": 24, "cell": "gru"}
    settings = resolve_settings(flags, config, task="g2p")
    assert settings["epochs"] == 2  # flag
    assert settings["hidden"] == 24  # config beats the task default
    assert settings["cell"] == "gru"  # config
    assert settings["embedding_dim"] == TASK_DEFAULTS["g2p"]["embedding_dim"]  # task default
    assert settings["encoder_depth"] == TASK_DEFAULTS["g2p"]["encoder_depth"] == 3  # task default
    assert settings["batch_size"] == SETTINGS["batch_size"].default  # built-in default
    assert set(settings) == set(SETTINGS)


def test_a_given_depth_is_both_sides_over_the_task_per_side_depths():
    # g2p's defaults set each side's depth (3 and 1); a depth given on the command line
    # or in a config file is the depth of both sides, unless a side is given too.
    def depths(flags, config):
        settings = resolve_settings(flags, config, task="g2p")
        return settings["depth"], settings["encoder_depth"], settings["decoder_depth"]

    assert depths({}, {}) == (1, 3, 1)
    assert depths({"depth": 2}, {}) == (2, None, None)
    assert depths({}, {"depth": 2}) == (2, None, None)
    assert depths({"depth": 2}, {"encoder_depth": 4}) == (2, 4, None)
    assert depths({"decoder_depth": 2}, {}) == (1, 3, 2)


def test_load_config_accepts_dashes_and_ints_for_floats(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('task = "dates"\nbatch-size = 32\nlearning_rate = 1\nskip_header = true\n')
    assert load_config(path) == {
        "task": "dates",
        "batch_size": 32,
        "learning_rate": 1.0,
        "skip_header": True,
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("epochs = true\n", "invalid value for `epochs`: expected an integer, received True"),
        ("validation_split = 1.0\n", "expected >= 0 and < 1, received 1.0"),
        ('model = "transformer"\n', "expected one of simple, seq2seq, attention"),
        ("[train]\nepochs = 3\n", "unknown key 'train'; valid keys: data, task, level"),
        ("epochs = = 3\n", "invalid TOML"),
    ],
)
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="run.toml: ") as error:
        load_config(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_written_config_reads_back(tmp_path):
    settings = resolve_settings({"task": "dates", "out": 'runs/"quoted"\\dir'}, {})
    path = write_config(settings, tmp_path / "config.toml")
    expected = {name: value for name, value in settings.items() if value is not None}
    assert load_config(path) == expected

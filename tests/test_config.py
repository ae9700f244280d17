"""The strict config: unknown keys and bad values are one-line errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakelab.config import load_config, parse_config, with_overrides
from lakelab.errors import UserError


def test_defaults_are_local_spark_and_local_disk() -> None:
    config = parse_config({})
    assert config.spark.master == "local[*]"
    assert config.paths.warehouse == "data/warehouse"
    assert config.datagen.records == 100_000


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lakelab.toml"
    path.write_text('[spark]\nmastr = "local[2]"\n')
    with pytest.raises(UserError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: unknown key 'spark.mastr'"


def test_bad_value_names_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "lakelab.toml"
    path.write_text("[datagen]\nrecords = -5\n")
    with pytest.raises(UserError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: datagen.records:")
    assert "-5" in message
    assert "\n" not in message


def test_string_is_not_silently_turned_into_a_number() -> None:
    with pytest.raises(UserError, match=r"datagen.seed"):
        parse_config({"datagen": {"seed": "42"}})


def test_invalid_toml_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[spark\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(path)


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_overrides_are_validated_like_the_file() -> None:
    config = with_overrides(parse_config({}), "datagen", records=5, seed=None)
    assert config.datagen.records == 5
    assert config.datagen.seed == 42
    with pytest.raises(UserError, match=r"command line: datagen\.records"):
        with_overrides(config, "datagen", records=0)


def test_config_is_frozen() -> None:
    config = parse_config({})
    with pytest.raises(Exception, match="frozen"):
        config.spark.master = "x"  # type: ignore[misc]


def test_example_config_lists_every_key_at_its_default() -> None:
    example = Path(__file__).resolve().parent.parent / "lakelab.example.toml"
    assert load_config(example) == parse_config({})


def test_absolute_resolves_local_paths_and_keeps_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakelab.paths import absolute

    monkeypatch.chdir(tmp_path)
    assert absolute("data/wh") == str(tmp_path / "data" / "wh")
    assert absolute(f"file://{tmp_path}/x") == str(tmp_path / "x")
    assert absolute("s3a://lakelab/warehouse") == "s3a://lakelab/warehouse"

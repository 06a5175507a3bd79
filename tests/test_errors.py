"""The error family: messages name the file, the features and the field; CLI exit codes."""

import pickle

import pytest
from gridkit_cli.main import main

from gridkit.errors import GridkitError, InputDataError, MissingCRSError, ParameterError


def test_message_names_file_features_field_and_fix():
    err = InputDataError("bad value", path="x.gpkg", feature_ids=list(range(25)), field="households", hint="fix it")
    text = str(err)
    assert text.startswith("x.gpkg: bad value")
    assert "field 'households'" in text
    assert "0, 1, 2" in text and "15 more" in text
    assert text.endswith("Fix: fix it")


def test_errors_are_also_builtin_errors_and_survive_pickling():
    err = MissingCRSError("no CRS", path="a.shp", hint="pass --assume-crs")
    assert isinstance(err, ValueError) and isinstance(err, GridkitError)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is MissingCRSError and str(back) == str(err)


@pytest.mark.parametrize("verb", [
    ["partition"], ["attach"], ["heatmap"], ["patrol", "plan"], ["patrol", "check"], ["map"], ["board"],
    ["export"], ["synth"], ["demo"], ["communities"], ["inspect"],
])
def test_every_verb_of_the_contract_is_built(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*verb, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: gridkit {' '.join(verb)}")
    assert "not built" not in text


def test_unknown_verb_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert isinstance(ParameterError("x"), ValueError)

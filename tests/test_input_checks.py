"""Bad input files: `mtrec run` stops before any component with exit 2 and one line
naming the file, the row (line number) and the column."""

import pytest

from mtrec.pipeline import cli
from mtrec.pipeline.config import load_config
from mtrec.pipeline.input_checks import MAX_ID_LENGTH, check_file, check_inputs

HEADER = "user_id,item_id,rating,timestamp\n"


def _run(capsys, tmp_path, *extra):
    code = cli.main(["run", "--data-dir", str(tmp_path), "--items-file", "",
                     "--pipeline-root", str(tmp_path / "out" / "pipeline"),
                     "--serving-dir", str(tmp_path / "out" / "serving"), *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("rows,message", [
    ("u1,i1,7,100\n", "r.csv:3: column rating: 7 is outside [0.5, 5] (data.rating_min, data.rating_max)"),
    ("u1,i1,-1,100\n", "r.csv:3: column rating: -1 is outside [0.5, 5]"),
    ("u1,i1,NaN,100\n", "r.csv:3: column rating: 'NaN' is not a finite number"),
    ("u1,i1,inf,100\n", "r.csv:3: column rating: 'inf' is not a finite number"),
    ("u1,i1,five,100\n", "r.csv:3: column rating: 'five' is not a number"),
    ("u1,i1,,100\n", "r.csv:3: column rating: '' is not a number (data.has_ratings = false"),
    ("u1,i1,4\n", "r.csv:3: 3 fields, the header has 4"),
    ("u1,i1,4,100,extra\n", "r.csv:3: 5 fields, the header has 4"),
    ('u1,"i1,4,100\nu2,i2,4,100\n', "r.csv:3-4: malformed CSV: unexpected end of data"),
    ('u1,"i1"x,4,100\n', "r.csv:3: malformed CSV: ',' expected after '\"'"),
    ('u1,"i1\nstill i1",4,100\nu2,i2,3,100\n',
     "r.csv:3-4: column item_id holds a line break (a quote left open on line 3?)"),
    ('"u1,i1,4,100\nu2",i2,3,100\n', "r.csv:3-4: column user_id holds a line break"),
    (",i1,4,100\n", "r.csv:3: column user_id is empty"),
    ("u1, ,4,100\n", "r.csv:3: column item_id is empty"),
    (f"u1,{'x' * (MAX_ID_LENGTH + 1)},4,100\n",
     f"r.csv:3: column item_id: an id of {MAX_ID_LENGTH + 1} characters, over the limit of 1000"),
    ("u1,i1,4,2020-01-01\n", "r.csv:3: column timestamp: '2020-01-01' is not unix seconds"),
])
def test_bad_row_names_file_row_and_column(capsys, tmp_path, rows, message):
    (tmp_path / "r.csv").write_text(HEADER + "u0,i0,4,99\n" + rows, encoding="utf-8")
    code, err = _run(capsys, tmp_path)
    assert code == 2, err
    assert message in err
    assert str(tmp_path / "r.csv") in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # stopped before anything was created


def test_mixed_encodings_name_row_and_column(capsys, tmp_path):
    content = (HEADER + "u0,Café,4,99\n").encode("utf-8") + "u1,Crème,4,100\n".encode("latin-1")
    (tmp_path / "r.csv").write_bytes(content)
    code, err = _run(capsys, tmp_path)
    assert code == 2
    assert "r.csv:3: column item_id: not valid utf-8: invalid continuation byte at byte 5 " in err
    assert "re-encode the file" in err
    (tmp_path / "r.csv").write_bytes("user_id,item_id,rating,Über\n".encode("latin-1"))
    code, err = _run(capsys, tmp_path)
    assert code == 2 and "r.csv:1: column #4: not valid utf-8" in err


def test_rating_range_is_configurable(capsys, tmp_path):
    (tmp_path / "r.csv").write_text(HEADER + "u0,i0,7,99\n")
    config = load_config(overrides={"data.ratings_dir": str(tmp_path), "data.items_file": "",
                                    "data.rating_min": 1, "data.rating_max": 10})
    assert check_file(str(tmp_path / "r.csv"), config) == 1
    code, err = _run(capsys, tmp_path, "--set", "data.rating_min=5", "--set", "data.rating_max=1")
    assert code == 2 and "data.rating_min: must be finite and below data.rating_max" in err


def test_unicode_quoted_commas_and_long_ids_are_accepted(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + 'ユーザー,"Crouching Tiger, Hidden Dragon (2000)",4.5,1\n'
                    f'u2,{"é" * MAX_ID_LENGTH},0.5,2\nu3,i3,5,\n', encoding="utf-8")
    config = load_config(overrides={"data.ratings_dir": str(tmp_path), "data.items_file": ""})
    assert check_file(str(path), config) == 3


def test_input_as_people_have_it_is_accepted(tmp_path):
    """A byte-order mark (Excel), blank lines (trailing or not), and free text
    spanning lines: ExampleGen reads them (components/csv_records.py)."""
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating,timestamp,review\n"
                    'u1,i1,4,1,"great\nwould watch again"\n\nu2,i2,3,2,fine\n\n\n',
                    encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfuser_id")
    config = load_config(overrides={"data.ratings_dir": str(tmp_path), "data.items_file": ""})
    assert check_file(str(path), config) == 2
    check_inputs(config)


def test_files_with_the_same_columns_in_another_order_are_accepted(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "u0,i0,4,99\n")
    (tmp_path / "b.csv").write_text("timestamp,rating,item_id,user_id\n100,3,i1,u1\n")
    check_inputs(load_config(overrides={"data.ratings_dir": str(tmp_path),
                                        "data.items_file": ""}))


@pytest.mark.parametrize("second_header, message", [
    ("user_id,item_id,rating\n", "b.csv: its columns (user_id,item_id,rating) are not those of "),
    ("user_id,item_id,rating,timestamp,rating\n",
     "b.csv: column(s) rating appear more than once in the header"),
])
def test_files_with_other_columns_are_refused_naming_both(capsys, tmp_path, second_header,
                                                          message):
    (tmp_path / "a.csv").write_text(HEADER + "u0,i0,4,99\n")
    (tmp_path / "b.csv").write_text(second_header + "u1,i1,3,100\n")
    code, err = _run(capsys, tmp_path)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    if "its columns" in message:
        assert f"{tmp_path / 'a.csv'} (user_id,item_id,rating,timestamp)" in err
    assert not (tmp_path / "out").exists()


def test_implicit_data_needs_no_rating_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id\nu1,i1\n")
    config = load_config(overrides={"data.has_ratings": False})
    assert check_file(str(path), config) == 1


def test_every_file_is_checked_not_just_the_first(capsys, tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "u0,i0,4,99\n")
    (tmp_path / "b.csv").write_text(HEADER + "u0,i0,4,99\nu1,i1,9,100\n")
    code, err = _run(capsys, tmp_path)
    assert code == 2 and "b.csv:3: column rating: 9 is outside" in err


def test_unwritable_pipeline_root_or_serving_dir(capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "r.csv").write_text(HEADER + "u0,i0,4,99\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # a path under a file cannot be created, even by root
    for flag, key in (("--pipeline-root", "pipeline_root"),
                      ("--serving-dir", "serving.serving_dir")):
        code = cli.main(["run", "--data-dir", str(data), "--items-file", "",
                         "--pipeline-root", str(tmp_path / "root"),
                         "--serving-dir", str(tmp_path / "serving"),
                         flag, str(blocker / "sub")])
        err = capsys.readouterr().err
        assert code == 2, err
        assert f"{blocker / 'sub'}: cannot write there ({key}" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["recommend", "--user", "u1"],
                                     ["similar-items", "--item", "i1"],
                                     ["similar-users", "--user", "u1"]])
@pytest.mark.parametrize("k", ["0", "-3", "ten"])
def test_k_below_one_is_a_usage_error(capsys, tmp_path, command, k):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "-k", k, "--serving-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "argument -k:" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    from mtrec.pipeline.input_checks import InputError

    (tmp_path / "r.csv").write_text(HEADER + "u0,i0,7,99\n")
    with pytest.raises(InputError, match="column rating: 7 is outside"):
        cli.main(["--debug", "run", "--data-dir", str(tmp_path), "--items-file", ""])

"""GroupThroughFiles: a GroupByKey through files that loses and repeats nothing."""

import os

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from mtrec.components import file_shuffle


def _grouped_values(pairs, folder):
    """{key: sorted values} as read back by a consumer of GroupThroughFiles."""
    with beam.Pipeline() as pipeline:
        grouped = (pipeline
                   | beam.Create(pairs, reshuffle=True)
                   | file_shuffle.GroupThroughFiles(folder)
                   | beam.MapTuple(lambda key, paths: (
                       key, sorted(file_shuffle.read_values(paths)))))
        expected = {}
        for key, value in pairs:
            expected.setdefault(key, []).append(value)
        assert_that(grouped, equal_to([(key, sorted(values)) for key, values in expected.items()]))


def test_every_value_reaches_its_key_once(tmp_path):
    pairs = [(n % 7, b"value %d " % n + bytes(n % 300)) for n in range(5000)]
    pairs.append((3, b""))  # an empty value is a value too
    _grouped_values(pairs, str(tmp_path / "buckets"))
    assert os.listdir(tmp_path / "buckets")  # the values did go through files


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "3-bundle"
    path.write_bytes((10).to_bytes(8, "big") + b"short")
    with pytest.raises(IOError, match=r"3-bundle: truncated at byte 8 \(a value of 10 bytes, 5 left\)"):
        list(file_shuffle.read_values([str(path)]))


def test_remove_deletes_the_folder_and_accepts_a_missing_one(tmp_path):
    folder = tmp_path / "buckets"
    folder.mkdir()
    (folder / "0-a").write_bytes(b"x")
    file_shuffle.remove(str(folder))
    assert not folder.exists()
    file_shuffle.remove(str(folder))

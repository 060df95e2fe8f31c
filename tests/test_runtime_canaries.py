"""Canaries for the private third-party attributes the runtime layer touches.

Each workaround in pipeline/runtime/ reaches into a library's internals. An
upgrade that renames or reshapes one would make the workaround a silent
no-op; these tests fail first, naming the attribute.
"""

import pytest
import tensorflow as tf

from mtrec.pipeline.runtime import beam_keepalive, tf_autograph


class _Held:
    """Beam's `shared` module keeps weak references, so plain objects will not do."""


def test_beam_shared_map_keeps_the_last_acquired_object_in_keepalive():
    from apache_beam.utils import shared

    held = shared.Shared().acquire(_Held)
    key, kept = shared._shared_map._keepalive
    assert kept is held
    beam_keepalive.release()
    assert shared._shared_map._keepalive == (None, None)


def test_autograph_reads_its_rules_from_config_conversion_rules():
    from tensorflow.python.autograph.core import config
    from tensorflow.python.autograph.impl import conversion

    tf_autograph.leave_tf_keras_unconverted()
    rules = config.CONVERSION_RULES
    assert isinstance(rules[0], config.DoNotConvert) and rules[0].matches("tf_keras")
    tf_autograph.leave_tf_keras_unconverted()  # once per process
    assert config.CONVERSION_RULES == rules
    # The module AutoGraph asks is the one the rule went into.
    assert conversion.config is config


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_tensorflow_s_tfrecord_reader_gives_beam_s_records(tmp_path, suffix):
    """The replaced `_TFRecordSource.read_records` reads what Beam's own wrote,
    every record once, in a real Beam pipeline (beam_tfrecord.py)."""
    import apache_beam as beam

    from mtrec.pipeline.runtime import beam_tfrecord

    records = [b"record %d " % n * (n % 7 + 1) for n in range(3000)] + [b"", b"x" * 70_000]
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create(records)
             | beam.io.WriteToTFRecord(str(tmp_path / "in"), file_name_suffix=suffix))
    beam_tfrecord.install()
    assert beam_tfrecord.installed()
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.io.ReadFromTFRecord(str(tmp_path / "in*"))
             | beam.io.WriteToTFRecord(str(tmp_path / "out")))
    read_back = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(str(p) for p in tmp_path.glob("out*")))]
    assert sorted(read_back) == sorted(records)


def test_a_corrupt_record_fails_the_read_instead_of_being_skipped(tmp_path):
    import apache_beam as beam

    from mtrec.pipeline.runtime import beam_tfrecord

    with tf.io.TFRecordWriter(str(tmp_path / "in.tfrecord")) as writer:
        for n in range(10):
            writer.write(b"record %d" % n)
    data = bytearray((tmp_path / "in.tfrecord").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "in.tfrecord").write_bytes(bytes(data))
    beam_tfrecord.install()
    with pytest.raises(Exception, match="(?i)corrupt|checksum|crc|data ?loss"):
        with beam.Pipeline() as pipeline:
            _ = pipeline | beam.io.ReadFromTFRecord(str(tmp_path / "in.tfrecord"))

"""Canaries for the private third-party attributes the runtime layer touches.

Each workaround in pipeline/runtime/ reaches into a library's internals. An
upgrade that renames or reshapes one would make the workaround a silent
no-op; these tests fail first, naming the attribute.
"""

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

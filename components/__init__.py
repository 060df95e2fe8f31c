"""Custom TFX component parts.

  atomic_pusher  a Pusher executor that publishes a version by rename, so a
                 reader never sees half a model
"""

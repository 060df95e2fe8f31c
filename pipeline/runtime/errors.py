"""The one base class of every error a user can fix.

The CLI prints these as one line and exits 2, without a traceback. Keeping the
base here, in a module that imports nothing, lets the CLI catch them all
without importing TensorFlow for commands that never need it.
"""


class UserFacingError(Exception):
    """A problem in the user's input, configuration or environment; the message says which."""

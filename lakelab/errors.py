"""The one error type users see."""


class UserError(Exception):
    """A mistake the user can fix (bad option, bad config, missing tool).

    The CLI prints its message on one line and exits with code 2. The message
    should name the thing that is wrong: the file, the key and the value.
    """

    exit_code = 2

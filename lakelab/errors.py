"""The one error type users see."""


class UserError(Exception):
    """A mistake the user can fix (bad option, bad config, missing tool).

    The CLI prints its message on one line and exits with code 2. The message
    should name the thing that is wrong: the file, the key and the value.
    """

    exit_code = 2


class ServiceUnavailableError(UserError):
    """A service the command needs (a Spark Connect server, say) does not answer.

    Not the user's typing: the same command works once the service is up, so exit code 1,
    as for a run that failed, not 2 as for a bad option.
    """

    exit_code = 1

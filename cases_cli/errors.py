"""What the CLI reports to its user as one line."""


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""

"""The one exception root of gmailfix.

    GmailfixError            anything gmailfix raises on purpose
    ├── InputError           what the user typed cannot be used (exit status 2)
    ├── BundleError          an export could not be written (nothing was left behind)
    └── LabError             the local lab could not start (e.g. a port is taken)

Network trouble is never an exception here: a server that cannot be reached is
a diagnosis, reported as a Finding.
"""


class GmailfixError(Exception):
    """Base class; ``str(err)`` is one line a person can read."""


class InputError(GmailfixError):
    """The input is not a usable domain, address, host or option value."""


class BundleError(GmailfixError):
    """The bundle could not be written."""


class LabError(GmailfixError):
    """The lab could not start."""

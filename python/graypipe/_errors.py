"""graypipe's exception classes (raised by the native module as well)."""


class Error(Exception):
    """Base class of every error graypipe raises on purpose."""


class UsageError(Error, ValueError):
    """An argument graypipe cannot use: a bad threshold SPEC, engine, format, luma, count..."""


class RefusedError(Error):
    """A batch refused before any work started: outputs colliding, the output folder inside an
    input folder, an output that would replace an input, a non-empty ``keep_output`` folder."""


class ImageError(Error, OSError):
    """``imread`` could not read or decode a file; the message names the file and the reason."""


# Shown as graypipe.UsageError etc. in tracebacks, where users import them from.
for _cls in (Error, UsageError, RefusedError, ImageError):
    _cls.__module__ = "graypipe"
del _cls

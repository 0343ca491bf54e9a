"""Error types the package raises for bad input, each with a message that says what to do."""


class GLIError(ValueError):
    """Base class: something the user gave us is wrong; the message says what and how to fix it."""


class DataError(GLIError):
    """A dataset file is missing, malformed or inconsistent."""


class ConfigError(GLIError):
    """An unknown name (method, architecture, preset, benchmark) or an invalid setting."""


class CheckpointError(GLIError):
    """A checkpoint that does not match what the caller expects, or a run folder that would be overwritten."""

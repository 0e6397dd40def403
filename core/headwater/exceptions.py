"""Exceptions headwater raises on its own account (a run's own exceptions pass through unchanged)."""

from __future__ import annotations

__all__ = [
    "HeadwaterError",
    "ConfigurationError",
    "PluginError",
    "ParameterError",
    "RunFailed",
    "MissingResult",
    "UnfinishedRun",
    "UpstreamFailedError",
    "ResultSerializationError",
    "StoreError",
    "MissingContextError",
    "TerminationSignal",
    "FlowPauseTimeout",
    "NotAvailable",
]


class HeadwaterError(Exception):
    """Base class of headwater's own errors."""


class ConfigurationError(HeadwaterError, ValueError):
    """An option or setting has a value headwater cannot use. The message names it and says what to do."""


class PluginError(HeadwaterError):
    """A plugin broke the plugin contract (a duplicate name, a hook returning the wrong type, ...)."""


class ParameterError(HeadwaterError, TypeError):
    """The parameters a flow was called with do not fit its signature or type hints."""


class RunFailed(HeadwaterError):
    """A run failed and no exception of its own is at hand (for example a state read back from the store)."""


class MissingResult(HeadwaterError):
    """A completed state whose result was neither kept in memory nor persisted."""


class UnfinishedRun(HeadwaterError):
    """A result was asked of a run that has not finished."""


class UpstreamFailedError(HeadwaterError):
    """A task run could not start because a task run it takes input from did not complete."""


class ResultSerializationError(HeadwaterError):
    """A result that had to be persisted could not be serialized."""


class StoreError(HeadwaterError):
    """The store cannot be opened or used; the message says why and what to do."""


class MissingContextError(HeadwaterError, RuntimeError):
    """Something that needs a flow run or task run in progress was called outside one."""


class AmbiguousRunId(HeadwaterError, LookupError):
    """A run was asked for by a part of its id that more than one run's id has."""


class TerminationSignal(SystemExit):
    """Raised in the main thread when SIGTERM arrives during a top-level flow run, as Ctrl-C raises KeyboardInterrupt.

    The flow run and its unfinished task runs are recorded Cancelled on the way out. A
    SystemExit: left uncaught, the process exits quietly with status 143 (128 + SIGTERM),
    and ``except Exception`` in user code does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        import signal

        return f"received {signal.Signals(self.signum).name}"


class FlowPauseTimeout(HeadwaterError):
    """A paused flow run was not resumed before its pause timed out."""


class NotAvailable(HeadwaterError, NotImplementedError):
    """A Prefect name that needs Prefect's server or cloud; the message says what to use in headwater."""

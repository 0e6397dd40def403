"""The built-in task runners, registered like any runner plugin."""

from ..hookspecs import hookimpl
from ..task_runners import ConcurrentTaskRunner, SequentialTaskRunner


@hookimpl
def register_task_runners(register):
    register(SequentialTaskRunner)
    register(ConcurrentTaskRunner)

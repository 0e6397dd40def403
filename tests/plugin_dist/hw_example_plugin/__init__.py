"""A headwater plugin for the tests: the 'example-inline' task runner, a SequentialTaskRunner that counts its runs."""

from headwater import hookimpl
from headwater.task_runners import SequentialTaskRunner


class ExampleInlineRunner(SequentialTaskRunner):
    name = "example-inline"
    submitted = 0

    def submit(self, run):
        type(self).submitted += 1
        return super().submit(run)


@hookimpl
def register_task_runners(register):
    register(ExampleInlineRunner)

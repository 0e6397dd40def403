"""Run headwater tasks on Dask: ``@flow(task_runner=DaskTaskRunner())`` or ``@flow(task_runner="dask")``.

Found through the ``headwater`` entry-point group, and registered with the
``register_task_runners`` hook like headwater's own runners. Importing this
package does not import Dask: that happens when a flow run first submits a task.
"""

from headwater.hookspecs import hookimpl

from ._options import remote_options
from ._runner import DaskTaskRunner

__all__ = ["DaskTaskRunner", "remote_options"]


@hookimpl
def register_task_runners(register):
    register(DaskTaskRunner)

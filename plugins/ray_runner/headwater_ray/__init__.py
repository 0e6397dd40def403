"""Run headwater tasks on Ray: ``@flow(task_runner=RayTaskRunner())`` or ``@flow(task_runner="ray")``.

Found through the ``headwater`` entry-point group, and registered with the
``register_task_runners`` hook like headwater's own runners. Importing this
package does not import Ray: that happens when a flow run first submits a task.
"""

from headwater.hookspecs import hookimpl

from ._options import remote_options
from ._runner import RayTaskRunner

__all__ = ["RayTaskRunner", "remote_options"]


@hookimpl
def register_task_runners(register):
    register(RayTaskRunner)

"""The run in progress, as plain attributes: ``headwater.runtime.flow_run.name``, ``.task_run.id``, ...

Each attribute is read when it is asked for, from the run in progress in this thread; outside a
run it is empty (``None``, ``{}``, ``[]`` or ``0``). An environment variable
``HEADWATER__RUNTIME__<MODULE>__<ATTRIBUTE>`` (for example ``HEADWATER__RUNTIME__FLOW_RUN__NAME``)
gives an attribute its value instead, for testing code that reads it outside a run.
"""

from . import deployment, flow_run, task_run

__all__ = ["flow_run", "task_run", "deployment"]

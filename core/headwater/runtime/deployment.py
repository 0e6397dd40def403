"""Deployments are Prefect's server-side records of how to run a flow; headwater has none.

Every attribute is empty, as Prefect's are for a flow run that no deployment made: ``id``,
``name``, ``version``, ``flow_run_id`` and ``parameters`` (``{}``). To run a flow on a schedule,
serve it (see the schedules page of the docs, once it exists) or call it from cron.
"""

from __future__ import annotations

from ._attributes import module_getattr

__getattr__ = module_getattr(__name__, {
    "id": lambda: None,
    "name": lambda: None,
    "version": lambda: None,
    "flow_run_id": lambda: None,
    "parameters": lambda: {},
})

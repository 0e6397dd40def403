"""Prefect's deployments, which headwater does not have: a flow runs in the process that calls it.

Each name raises :class:`~headwater.exceptions.NotAvailable` when imported, saying what to do instead.
"""

from ._server_only import server_only_names

_CALL_IT = (
    "Serve the flow on a schedule with flow.serve(...) or `headwater serve FILE.py:FLOW`, or call it from a script; its runs are recorded in the store all the same."
)

__getattr__ = server_only_names(__name__, {
    "Deployment": _CALL_IT,
    "run_deployment": "Import the flow and call it (or call it with return_state=True) instead.",
    "deploy": _CALL_IT,
    "serve": _CALL_IT,
    "DeploymentImage": "Build your image as usual and run the flow script in it.",
})

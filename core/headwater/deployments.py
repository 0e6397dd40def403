"""Prefect's deployments, which headwater does not have: a flow runs in the process that calls it.

Each name raises :class:`~headwater.exceptions.NotAvailable` when imported, saying what to do instead.
"""

from ._server_only import server_only_names

_CALL_IT = (
    "Call the flow from a script, cron or CI instead; its runs are recorded in the store all the same."
)

__getattr__ = server_only_names(__name__, {
    "Deployment": _CALL_IT,
    "run_deployment": "Import the flow and call it (or call it with return_state=True) instead.",
    "deploy": _CALL_IT,
    "serve": _CALL_IT,
    "DeploymentImage": "Build your image as usual and run the flow script in it.",
})

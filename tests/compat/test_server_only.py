"""Prefect names that need Prefect's server: importing them says what to do in headwater, not ImportError."""

import pytest

from headwater import flow
from headwater.exceptions import NotAvailable


@pytest.mark.parametrize(
    "module, name, advice",
    [
        ("headwater.deployments", "Deployment", "headwater serve FILE.py:FLOW"),
        ("headwater.deployments", "run_deployment", "Import the flow and call it"),
        ("headwater.blocks", "Block", "headwater.filesystems"),
        ("headwater.blocks.system", "Secret", "environment variable"),
        ("headwater.variables", "Variable", "environment variable"),
        ("headwater.events", "emit_event", "on_flow_run_state_change"),
    ],
)
def test_importing_a_server_only_name_explains_the_alternative(module, name, advice):
    with pytest.raises(NotAvailable, match=f"{module}.{name} needs Prefect's server") as raised:
        exec(f"from {module} import {name}", {})
    assert advice in str(raised.value)
    assert not isinstance(raised.value, ImportError)


def test_a_name_prefect_never_had_is_still_an_import_error():
    with pytest.raises(ImportError):
        exec("from headwater.deployments import no_such_name", {})


def test_deploying_a_flow_explains_the_alternative():
    @flow
    def etl():
        return 1

    for call in (etl.deploy, etl.to_deployment, flow.__class__ and type(etl).from_source):
        with pytest.raises(NotAvailable, match="needs Prefect's server"):
            call("name")

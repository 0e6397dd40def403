"""schemathesis against the API's OpenAPI document: requests made from the document (valid and
not) over a store of real runs. None may give a server error, and every answer fits its schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from headwater_ui.app import create_app


@pytest.fixture
def ui_schema(filled):
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(filled["store"]))


def test_no_request_gives_a_server_error(ui_schema, filled):
    store = filled["store"]
    # Run ids the document cannot guess: half the cases of a route with {run_id} ask for a real run.
    real_ids = [run.id for run in filled["runs"].values()] + [t.id for t in store.read_task_runs(limit=100)]
    operations = [result.ok() for result in ui_schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:

        @given(case=operation.as_strategy(), real_id=st.none() | st.sampled_from(real_ids))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case, real_id):
            if real_id is not None and case.path_parameters and "run_id" in case.path_parameters:
                case.path_parameters["run_id"] = real_id
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        check()

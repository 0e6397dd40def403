"""Prefect 2.20's artifacts page: the examples not in test_artifacts.py, ported (link lineage, reading back)."""

from headwater import flow, task
from headwater.artifacts import Artifact, create_link_artifact, create_table_artifact
from headwater.client import get_client


def test_link_artifacts_under_one_key_are_its_versions_and_artifact_get_reads_the_newest():
    @task
    def my_first_task():
        create_link_artifact(key="irregular-data", link="https://example.com/highly_variable_data.csv", description="## Highly variable data")

    @task
    def my_second_task():
        create_link_artifact(key="irregular-data", link="https://example.com/low_pred_data.csv", description="# Low prediction accuracy")

    @flow
    def my_flow():
        my_first_task()
        my_second_task()

    my_flow()
    versions = get_client().read_artifacts(key="irregular-data")
    assert [v.description for v in versions] == ["# Low prediction accuracy", "## Highly variable data"]
    newest = Artifact.get("irregular-data")
    assert newest.id == versions[0].id and newest.data == "https://example.com/low_pred_data.csv"
    assert Artifact.get("no-such-key") is None


def test_a_table_artifact_outside_any_flow():
    highest_churn_possibility = [
        {"customer_id": "12345", "name": "John Smith", "churn_probability": 0.85},
        {"customer_id": "56789", "name": "Jane Jones", "churn_probability": 0.65},
    ]
    create_table_artifact(key="personalized-reachout", table=highest_churn_possibility, description="# Marvin, please reach out")
    found = Artifact.get("personalized-reachout")
    assert found.flow_run_id is None and found.data == highest_churn_possibility

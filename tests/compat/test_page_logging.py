"""Prefect 2.20's logging guide, its examples ported with ``prefect`` renamed ``headwater``.

log_prints is in test_prints_and_hooks.py. logging.yml, formatter variables, rich styles and markup
are Prefect's console set-up: headwater configures Python's logging as usual (see the docs' table).
"""

from headwater import flow, get_run_logger, task
from headwater.client import get_client


def test_logging_in_flows_and_tasks_names_the_run_and_is_stored(capfd):
    @task(name="log-example-task")
    def logger_task():
        get_run_logger().info("INFO level log message from a task.")

    @flow(name="log-example-flow")
    def logger_flow():
        get_run_logger().info("INFO level log message.")
        logger_task()

    logger_flow()
    err = capfd.readouterr().err
    assert "| INFO    | Flow run '" in err and "' - INFO level log message." in err
    assert "| INFO    | Task run 'log-example-task-" in err and "INFO level log message from a task." in err
    [run] = get_client().read_flow_runs()
    stored = get_client().read_logs(run.id)
    by_message = {line.message: line for line in stored}
    from_task = by_message["INFO level log message from a task."]
    # Differs: a line names the run that logged it (run_id, run_name) rather than a task_run_id column.
    assert from_task.run_id != run.id and from_task.run_name.startswith("log-example-task-")
    assert from_task.flow_run_id == run.id and from_task.level == 20


def test_a_task_with_log_prints_false_in_a_flow_that_logs_prints(capfd):
    @task(log_prints=False)
    def my_task():
        print("not logging print statements in this task")

    @flow(log_prints=True)
    def my_flow():
        print("we're logging print statements from a flow")
        my_task()

    my_flow()
    captured = capfd.readouterr()
    assert "not logging print statements in this task" in captured.out
    assert "we're logging print statements from a flow" in captured.err

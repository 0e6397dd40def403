"""headwater-example-plugin: an example to copy, with one hook implementation of each kind headwater has.

* :mod:`headwater_example.rules`: ``FailFast`` and ``MaintenanceWindow``, rules of the orchestration policy;
* :mod:`headwater_example.runner`: ``TimedTaskRunner``, ``@flow(task_runner="timed")``;
* :mod:`headwater_example.cache_keys`: ``inputs_and_data_version``, ``@task(cache_key_fn="inputs_and_data_version")``;
* :mod:`headwater_example.input_hashers`: ``function_by_code``, which ``task_input_hash`` asks about function inputs;
* :mod:`headwater_example.store`: ``MemoryStore``, ``HEADWATER_STORE=memory``;
* :mod:`headwater_example.audit`: a JSON line per state change, ``HEADWATER_EXAMPLE_AUDIT_FILE=audit.jsonl``;
* :mod:`headwater_example.plugin`: the hook implementations, found through the ``headwater`` entry point ``example``.
"""

__version__ = "0.1.0"

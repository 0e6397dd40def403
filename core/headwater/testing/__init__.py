"""Test helpers headwater ships for its users and plugin authors.

* :mod:`headwater.testing.pytest_plugin`: the pytest plugin installed with
  headwater (entry point ``headwater`` of ``pytest11``). Fixtures
  ``headwater_home`` (an isolated home, store and plugin set per test) and
  ``headwater_client``; the ``headwater_isolate`` marker and ini option.
* :func:`latest_flow_run`, :func:`state_history`, :func:`assert_state_history`:
  assertions on the runs a test recorded, importable from here.
* :mod:`headwater.testing.runner_conformance`: the contract every task runner
  keeps, as a pytest test class to subclass in a runner plugin's own tests.

Nothing here is imported by headwater itself; the modules import pytest.
"""

from .pytest_plugin import assert_state_history, latest_flow_run, state_history

__all__ = ["assert_state_history", "latest_flow_run", "state_history"]

"""Test helpers headwater ships for plugin authors.

* :mod:`headwater.testing.runner_conformance`: the contract every task runner
  keeps, as a pytest test class to subclass in a runner plugin's own tests.

Nothing here is imported by headwater itself; the modules import pytest.
"""

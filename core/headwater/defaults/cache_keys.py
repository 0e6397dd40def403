"""The default cache-key functions, registered like any plugin's."""

from ..cache_keys import flow_parameters_hash, task_input_hash, task_source_hash
from ..hookspecs import hookimpl


@hookimpl
def register_cache_key_functions(register):
    register(task_input_hash)
    register(task_source_hash)
    register(flow_parameters_hash)

"""The default cache-key functions, registered like any plugin's."""

from ..cache_keys import task_input_hash
from ..hookspecs import hookimpl


@hookimpl
def register_cache_key_functions(register):
    register(task_input_hash)

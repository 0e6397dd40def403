"""task_input_hash: equal inputs give equal keys, in every process; distinct inputs give distinct keys."""

import copy
import dataclasses
import datetime as dt
import decimal
import enum
import json
import logging
import os
import pathlib
import tempfile
import threading
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from headwater import flow, task
from headwater.client import get_client
from headwater.tasks import task_input_hash

# Hypothesis keeps its example database and caches outside the repository.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "headwater-tests-hypothesis"))

CONTEXT = SimpleNamespace(task=SimpleNamespace(task_key="0123456789abcdef", name="some_task"))


def key(parameters, context=CONTEXT):
    return task_input_hash(context, parameters)


# -- equal and distinct inputs ------------------------------------------------------------------


def test_key_is_a_hex_string():
    assert isinstance(key({"x": 1}), str)
    assert int(key({"x": 1}), 16) >= 0
    assert len(key({"x": 1})) >= 16


def test_equal_inputs_give_equal_keys():
    assert key({"x": [1, 2, {"a": "b"}]}) == key({"x": [1, 2, {"a": "b"}]})
    assert key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})  # order of parameters
    assert key({"d": {"k1": 1, "k2": 2}}) == key({"d": {"k2": 2, "k1": 1}})  # order of dict items
    assert key({"s": {"x", "y", "z"}}) == key({"s": {"z", "y", "x"}})
    assert key({"f": frozenset({1, 2})}) == key({"f": frozenset({2, 1})})


@pytest.mark.parametrize(
    "left, right",
    [
        ({"x": 1}, {"x": 2}),
        ({"x": 1}, {"y": 1}),
        ({"x": 1}, {"x": 1.0}),
        ({"x": 1}, {"x": True}),
        ({"x": 1}, {"x": "1"}),
        ({"x": None}, {"x": "None"}),
        ({"x": [1, 2]}, {"x": (1, 2)}),
        ({"x": [1, 2]}, {"x": [2, 1]}),
        ({"x": {1, 2}}, {"x": [1, 2]}),
        ({"x": b"ab"}, {"x": "ab"}),
        ({"x": {"a": 1}}, {"x": {"a": "1"}}),
        ({"x": dt.date(2024, 1, 1)}, {"x": dt.date(2024, 1, 2)}),
        ({"x": dt.date(2024, 1, 1)}, {"x": "2024-01-01"}),
        ({"x": decimal.Decimal("1.0")}, {"x": decimal.Decimal("1.00")}),
        ({"x": pathlib.PurePosixPath("a/b")}, {"x": "a/b"}),
        ({"x": uuid.UUID(int=1)}, {"x": uuid.UUID(int=2)}),
        ({"x": dt.timedelta(seconds=1)}, {"x": dt.timedelta(seconds=2)}),
    ],
)
def test_distinct_inputs_give_distinct_keys(left, right):
    assert key(left) != key(right)


def test_task_identity_is_part_of_the_key():
    other = SimpleNamespace(task=SimpleNamespace(task_key="fedcba9876543210", name="other_task"))
    assert key({"x": 1}) != key({"x": 1}, context=other)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Holder:
    """A plain object: hashed through cloudpickle."""

    def __init__(self, value):
        self.value = value


def test_rich_values_hash_by_value():
    assert key({"c": Colour.RED}) == key({"c": Colour.RED})
    assert key({"c": Colour.RED}) != key({"c": Colour.BLUE})
    assert key({"c": Colour.RED}) != key({"c": "red"})
    assert key({"p": Point(1, 2)}) == key({"p": Point(1, 2)})
    assert key({"p": Point(1, 2)}) != key({"p": Point(2, 1)})
    assert key({"h": Holder([1, 2])}) == key({"h": Holder([1, 2])})
    assert key({"h": Holder([1, 2])}) != key({"h": Holder([1, 3])})


def test_pydantic_models_hash_by_value():
    from pydantic import BaseModel

    class Config(BaseModel):
        name: str
        size: int = 1

    assert key({"c": Config(name="a")}) == key({"c": Config(name="a", size=1)})
    assert key({"c": Config(name="a")}) != key({"c": Config(name="a", size=2)})


@pytest.mark.parametrize(
    "left, right",
    [
        ({"x": {"a": 1}}, {"x": ["dict", [["a", 1]]]}),
        ({"x": 1.5}, {"x": ["float", (1.5).hex()]}),
        ({"x": (1, 2)}, {"x": ["tuple", [1, 2]]}),
    ],
    ids=["dict", "float", "tuple"],
)
def test_lists_that_look_like_tags_do_not_collide(left, right):
    assert left != right
    assert key(left) != key(right)


# -- property tests ---------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def identical(a, b):
    """Equal and of the same types all the way down (1 is not 1.0 or True; 0.0 is not -0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex()
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    return a == b


def reorder(value):
    """The same value with every dict built in reverse order."""
    if isinstance(value, list):
        return [reorder(item) for item in value]
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    return value


@settings(max_examples=100, deadline=None, database=None)
@given(json_like)
def test_property_equal_values_give_equal_keys(value):
    assert key({"v": value}) == key({"v": copy.deepcopy(value)}) == key({"v": reorder(value)})


@settings(max_examples=150, deadline=None, database=None)
@given(json_like, json_like)
def test_property_keys_are_equal_exactly_when_values_are_identical(a, b):
    assert (key({"v": a}) == key({"v": b})) == identical(a, b)


@settings(max_examples=100, deadline=None, database=None)
@given(st.sets(st.text(max_size=6), max_size=8))  # sets are tagged but hold no lists: no collision
def test_property_sets_hash_regardless_of_order(values):
    assert key({"s": values}) == key({"s": set(sorted(values, reverse=True))})


# -- across processes -------------------------------------------------------------------------

CROSS_PROCESS = r"""
import datetime as dt, json, sys
from types import SimpleNamespace
from headwater.tasks import task_input_hash

context = SimpleNamespace(task=SimpleNamespace(task_key="0123456789abcdef", name="some_task"))
names = {f"name-{i}" for i in range(20)}
inputs = [
    {"names": names},
    {"config": {"beta": [1, 2.5, None], "alpha": {"nested": True, "list": ["x", "y"]}, "gamma": "g"}},
    {"frozen": frozenset({"a", "b", "c"}), "pairs": {("a", 1), ("b", 2)}},
    {"when": dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.timezone.utc), "n": 12345678901234567890},
    {"bytes": b"\x00\x01", "tuple": (1, (2, 3))},
]
print(json.dumps({"keys": [task_input_hash(context, p) for p in inputs], "order": list(names)}))
"""


def test_keys_are_the_same_in_other_processes_with_other_hash_seeds(run_python):
    results = [json.loads(run_python(CROSS_PROCESS, env={"PYTHONHASHSEED": seed}).stdout) for seed in ("1", "2")]
    # The two processes really iterate the set of strings in different orders...
    assert results[0]["order"] != results[1]["order"]
    # ...and still agree on every key, with this process too.
    assert results[0]["keys"] == results[1]["keys"]
    namespace = {}
    exec(CROSS_PROCESS.replace("print(", "result = ("), namespace)
    assert json.loads(namespace["result"])["keys"] == results[0]["keys"]
    assert len(set(results[0]["keys"])) == len(results[0]["keys"])


# -- inputs that cannot be hashed -----------------------------------------------------------------


class WithLock:
    """Neither canonical data nor picklable: cloudpickle refuses the lock."""

    def __init__(self):
        self.lock = threading.Lock()


def test_unhashable_input_warns_and_runs_uncached(caplog):
    calls = []

    @task(cache_key_fn=task_input_hash)
    def guarded_task(resource):
        calls.append(1)
        return len(calls)

    @flow
    def f():
        resource = WithLock()
        return guarded_task(resource), guarded_task(resource)

    assert f() == (1, 2)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in warnings if "guarded_task" in m and "cannot be hashed" in m]) == 2
    runs = get_client().read_task_runs()
    assert [run.state.name for run in runs] == ["Completed", "Completed"]
    assert all(run.cache_key is None for run in runs)


def test_unhashable_input_returns_none_from_task_input_hash(caplog):
    assert key({"lock": WithLock()}) is None
    assert any("some_task" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


# -- code-aware and composable key functions ------------------------------------------------------

from headwater.cache_keys import CacheKeyFunction, source_fingerprint  # noqa: E402
from headwater.tasks import combine_cache_keys, flow_parameters_hash, task_source_hash  # noqa: E402


def _exec_function(body):
    """A function with no source file (as in a REPL or `python -c`): only its code object describes it."""
    namespace = {}
    exec(compile(f"def work(x):\n    {body}\n", "<no file>", "exec"), namespace)
    return namespace["work"]


def test_task_source_hash_changes_with_the_source_and_ignores_inputs():
    @task
    def version_one(x):
        return x + 1

    @task
    def version_two(x):
        return x + 2

    # The same task key, as the same task edited between two processes would have.
    context_one = SimpleNamespace(task=SimpleNamespace(task_key="k", name="t", fn=version_one.fn))
    context_two = SimpleNamespace(task=SimpleNamespace(task_key="k", name="t", fn=version_two.fn))
    assert task_source_hash(context_one, {"x": 1}) == task_source_hash(context_one, {"x": 2})
    assert task_source_hash(context_one, {"x": 1}) != task_source_hash(context_two, {"x": 1})


def test_source_fingerprint_without_source_uses_bytecode_constants_and_names():
    plus_one, plus_two = _exec_function("return x + 1"), _exec_function("return x + 2")
    calls_len, calls_abs = _exec_function("return len(x)"), _exec_function("return abs(x)")
    assert source_fingerprint(plus_one) == source_fingerprint(_exec_function("return x + 1"))
    assert source_fingerprint(plus_one) != source_fingerprint(plus_two)  # a constant changed
    assert source_fingerprint(calls_len) != source_fingerprint(calls_abs)  # a global name changed
    inner_a = _exec_function("return [y * 2 for y in x]")
    inner_b = _exec_function("return [y * 3 for y in x]")
    assert source_fingerprint(inner_a) != source_fingerprint(inner_b)  # inside a nested code object


def test_flow_parameters_hash_follows_the_flow_run_parameters():
    calls = []

    @task(cache_key_fn=flow_parameters_hash)
    def report(label):
        calls.append(label)
        return label

    @flow
    def nightly(day: str):
        return report(f"first-{day}"), report(f"second-{day}")  # other task inputs, same flow parameters

    assert nightly("mon") == ("first-mon", "first-mon")
    assert nightly("mon") == ("first-mon", "first-mon")
    assert nightly("tue") == ("first-tue", "first-tue")
    assert calls == ["first-mon", "first-tue"]


def test_flow_parameters_hash_sees_real_values_not_their_records():
    from pydantic import SecretStr

    calls = []

    @task(cache_key_fn=flow_parameters_hash)
    def connect(password: SecretStr) -> int:
        calls.append(password.get_secret_value())
        return len(calls)

    @flow
    def sync(password: SecretStr):
        return connect(password)

    # Both secrets are recorded as '**********'; the cache key still tells them apart.
    assert sync(SecretStr("one")) == 1
    assert sync(SecretStr("two")) == 2
    assert sync(SecretStr("one")) == 1  # the first run's flow parameters again: its cached result
    assert calls == ["one", "two"]


def test_combined_keys_change_when_any_part_changes():
    seen = []

    def by_day(context, parameters):
        return parameters["day"]

    combined = task_input_hash + task_source_hash + by_day
    assert isinstance(combined, CacheKeyFunction)
    assert combined.name == "task_input_hash+task_source_hash+by_day"
    assert (by_day + task_input_hash).name == "by_day+task_input_hash"
    assert combine_cache_keys(task_input_hash, by_day).name == "task_input_hash+by_day"

    @task(cache_key_fn=task_input_hash + by_day)
    def load(day, region):
        seen.append((day, region))
        return f"{day}-{region}"

    @flow
    def f():
        return [load("mon", "eu"), load("mon", "eu"), load("mon", "us"), load("tue", "eu")]

    assert f() == ["mon-eu", "mon-eu", "mon-us", "tue-eu"]
    assert seen == [("mon", "eu"), ("mon", "us"), ("tue", "eu")]


def test_a_part_that_returns_none_makes_the_combination_uncached():
    def never(context, parameters):
        return None

    assert (task_input_hash + never)(CONTEXT, {"x": 1}) is None
    assert combine_cache_keys(never, task_input_hash)(CONTEXT, {"x": 1}) is None
    assert combine_cache_keys(task_input_hash)(CONTEXT, {"x": 1}) is not None


def test_combining_a_non_function_is_an_error():
    with pytest.raises(TypeError):
        task_input_hash + 3
    with pytest.raises(TypeError, match="combine_cache_keys"):
        combine_cache_keys(task_input_hash, "task_source_hash")


def test_builtins_work_by_name():
    calls = []

    @task(cache_key_fn="task_source_hash")
    def constant(x):
        calls.append(x)
        return "same"

    @flow
    def f():
        return constant(1), constant(2)  # inputs do not count for task_source_hash

    assert f() == ("same", "same")
    assert calls == [1]

"""Prefect 2.20's results concept page: retrieving results, failures, async results and serializers, ported.

Persisting (persist_result, result_storage, result_storage_key, cache_result_in_memory) is in
test_results.py.
"""

import asyncio
import bz2
import lzma

import pytest

from headwater import flow, task
from headwater.filesystems import S3, LocalFileSystem
from headwater.serializers import CompressedSerializer, JSONSerializer, PickleSerializer


@task
def one():
    return 1


@task
def fails():
    raise ValueError()


def test_results_of_calls_states_and_futures():
    @flow
    def called():
        return one() + 1

    @flow
    def from_state():
        return one(return_state=True).result() + 1

    @flow
    def from_future():
        return one.submit().result() + 1

    assert called() == 2 and from_future() == 2
    assert from_state(return_state=True).result() == 2


def test_failures_raise_unless_asked_not_to():
    @flow
    def caught():
        try:
            fails()
        except ValueError:
            return "Oh no! The task failed."

    @flow
    def checked():
        state = fails(return_state=True)
        result = 1 if state.is_failed() else state.result()
        maybe = state.result(raise_on_failure=False)
        return result + 1, isinstance(maybe, ValueError)

    @flow
    def futures_too():
        future = fails.submit()
        with pytest.raises(ValueError):
            future.result()
        return type(future.result(raise_on_failure=False)).__name__

    assert caught() == "Oh no! The task failed."
    assert checked() == (2, True)
    assert futures_too() == "ValueError"


def test_async_results_awaited_as_prefect_2_writes_them():
    @task
    async def my_task():
        return 1

    @flow
    async def called():
        return await my_task() + 1

    @flow
    async def from_state():
        state = await my_task(return_state=True)
        return await state.result(fetch=True) + 1

    @flow
    async def from_future():
        future = await my_task.submit()
        return await future.result() + 1

    async def main():
        state = await from_state(return_state=True)
        return await state.result(fetch=True)

    assert asyncio.run(called()) == 2
    assert asyncio.run(main()) == 2
    assert asyncio.run(from_future()) == 2


def test_an_async_flows_future_is_awaited_for_itself_then_for_its_state():
    @task
    def square(x):
        return x * x

    @flow
    async def f():
        future = await square.submit(3)
        state = await future  # awaiting the future itself gives its final state, as in Prefect 2
        futures = await square.map([1, 2])
        values = [await each.result() for each in futures]
        waited = await futures[0].wait()
        return state.result(), values, waited.is_completed()

    assert asyncio.run(f()) == (9, [1, 4], True)


def test_a_futures_result_in_an_async_flow_not_awaited_still_blocks_and_returns():
    @flow
    async def f():
        return one.submit().result()  # headwater's own way: the future was not awaited

    assert asyncio.run(f()) == 1


def test_storage_objects_and_serializers_by_name_and_by_instance(tmp_path):
    assert LocalFileSystem(basepath=str(tmp_path)).basepath == tmp_path.as_uri()
    bucket = S3(bucket_path="my-bucket/results")
    assert bucket.basepath == "s3://my-bucket/results"  # written and read through s3fs, where installed
    assert PickleSerializer(picklelib="pickle").loads(PickleSerializer(picklelib="pickle").dumps({1: 2})) == {1: 2}
    assert JSONSerializer(jsonlib="json").dumps({"a": 1}) == b'{"a":1}'
    lz = CompressedSerializer(serializer="pickle", compressionlib="lzma")
    assert lzma.decompress(lz.dumps([1])) and CompressedSerializer().loads(lz.dumps([1])) == [1]  # read back by its header
    assert bz2.decompress(CompressedSerializer("json", compressionlib="bz2").dumps([2])) == b"[2]"


def test_a_flow_with_storage_and_serializer_options(tmp_path):
    @task(persist_result=True, result_storage_key="hello-{parameters[name]}.json", result_serializer="json")
    def hello_world(name: str = "world"):
        return f"hello {name}"

    @flow(result_storage=LocalFileSystem(basepath=str(tmp_path / "results")))
    def my_flow():
        return hello_world(), hello_world(name="foo")

    assert my_flow() == ("hello world", "hello foo")
    files = {p.name for p in (tmp_path / "results").iterdir()}
    assert {"hello-foo.json", "hello-world.json"} <= files  # (and the flow's own result, under its run's digest)


def test_without_memory_or_persistence_the_result_is_gone():
    @task(persist_result=False, cache_result_in_memory=False)
    def bar():
        return "pretend this is biiiig data"

    @flow
    def foo():
        # Differs: Prefect raises here; headwater hands the direct caller the value it has in hand,
        # and keeps it nowhere after that.
        assert bar() == "pretend this is biiiig data"
        state = bar(return_state=True)  # this is okay
        # Differs too: with nothing persisted, headwater keeps the value in memory after all (a result is
        # never lost that way); cache_result_in_memory=False drops it once it is written somewhere.
        return state.is_completed() and state.result() == "pretend this is biiiig data"

    assert foo() is True

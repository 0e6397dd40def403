"""flow.visualize() and headwater.visualization: the graph of a flow's task calls, traced without running them."""

import asyncio
import sys
import types

import pytest

from headwater import allow_failure, flow, task, unmapped
from headwater.utilities.annotations import quote
from headwater.visualization import GraphvizNotInstalled, TracedRun, VisualizationError, task_graph

ran = []


@task
def source(n=0):
    ran.append(("source", n))
    return n


@task
def combine(*values, other=None):
    ran.append("combine")
    return values


@task
def pair(x, other=None):
    ran.append("pair")
    return x, other


@pytest.fixture(autouse=True)
def _nothing_ran():
    ran.clear()
    yield
    assert ran == [], "a traced task ran"


def test_edges_follow_the_engines_rule_futures_and_states_at_any_depth_and_wait_for(headwater_client):
    @flow
    def shapes():
        a = source.submit(1)
        b = source(2, return_state=True)
        c = source(3)
        combine({"deep": [(a,)]}, other=b)  # a future in a dict in a list in a tuple, a state as a keyword
        combine(wait_for=[c])  # waiting without the value
        combine(allow_failure(a))  # an annotation is looked into
        combine(quote([c]))  # quote is not: no edge
        return "done"

    graph = task_graph(shapes)
    assert graph.nodes == ["source-0", "source-1", "source-2", "combine-0", "combine-1", "combine-2", "combine-3"]
    assert graph.edges == [
        ("source-0", "combine-0"), ("source-1", "combine-0"),
        ("source-2", "combine-1"),
        ("source-0", "combine-2"),
    ]
    assert headwater_client.read_flow_runs() == []  # nothing recorded: no run happened


def test_map_gives_a_node_per_element_and_unmapped_arguments_link_to_each():
    @flow
    def mapped():
        base = source.submit()
        return pair.map([1, 2, 3], other=unmapped(base))

    graph = task_graph(mapped)
    assert graph.nodes == ["source-0", "pair-0", "pair-1", "pair-2"]
    assert graph.edges == [("source-0", f"pair-{i}") for i in range(3)]


def test_a_viz_return_value_is_returned_and_links_where_it_is_passed():
    @task(viz_return_value=[4])
    def get_list():
        ran.append("get_list")
        return [1, 2, 3]

    @flow
    def uses_value():
        values = get_list()
        assert values == [4]
        combine(values)
        combine(len(values))  # a new value, made from it: not linked (Prefect links only the value itself)

    graph = task_graph(uses_value)
    assert graph.edges == [("get_list-0", "combine-0")]


def test_using_a_value_without_viz_return_value_explains_what_to_do():
    @flow
    def needs_value():
        return source.submit().result() + 1

    with pytest.raises(VisualizationError, match=r"viz_return_value"):
        task_graph(needs_value)


def test_subflows_are_nodes_and_are_not_run():
    @flow
    def child(x):
        ran.append("child")
        return x

    @flow
    def parent():
        child(source.submit())

    graph = task_graph(parent)
    assert graph.nodes == ["source-0", "child-0"] and graph.edges == [("source-0", "child-0")]


def test_an_async_flow_is_traced_with_awaits_as_prefect_writes_them():
    @task
    async def fetch(n):
        ran.append("fetch")
        return n

    @flow
    async def gather():
        first = await fetch(1)
        future = await fetch.submit(first)
        many = await fetch.map([1, 2])
        await asyncio.gather(fetch(future), fetch(many[0]))

    graph = task_graph(gather)
    assert graph.nodes == [f"fetch-{i}" for i in range(6)]
    assert set(graph.edges) == {("fetch-0", "fetch-1"), ("fetch-1", "fetch-4"), ("fetch-2", "fetch-5")}


def test_parameters_are_bound_as_a_call_binds_them():
    @flow
    def greet(name, times=2):
        for _ in range(times):
            source(name)

    assert task_graph(greet, "marvin", times=3).nodes == ["source-0", "source-1", "source-2"]


def test_dot_text_quotes_names():
    @task(name='say "hi"')
    def odd():
        return 1

    @flow(name="odd flow")
    def f():
        odd()

    dot = task_graph(f).to_dot()
    assert dot.startswith('digraph "odd flow" {') and '"say \\"hi\\"-0";' in dot


def test_visualize_without_graphviz_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # an import of it fails

    @flow
    def f():
        source()

    with pytest.raises(GraphvizNotInstalled, match=r"pip install graphviz.*`dot`.*to_dot\(\)") as raised:
        f.visualize()
    assert isinstance(raised.value, ImportError)


def test_visualize_renders_with_graphviz_when_it_is_there(monkeypatch):
    rendered = []

    class Source:
        def __init__(self, text):
            self.text = text

        def render(self, **options):
            rendered.append((self.text, options))

    fake = types.SimpleNamespace(Source=Source, ExecutableNotFound=RuntimeError)
    monkeypatch.setitem(sys.modules, "graphviz", fake)

    @flow(name="Hello Flow")
    def hello():
        source(source())

    graph = hello.visualize()
    [(text, options)] = rendered
    assert text == graph.to_dot() and '"source-0" -> "source-1";' in text
    assert options == {"filename": "Hello Flow", "format": "png", "view": True, "cleanup": True}


def test_a_missing_dot_program_is_explained(monkeypatch):
    class ExecutableNotFound(RuntimeError):
        pass

    class Source:
        def __init__(self, text):
            pass

        def render(self, **options):
            raise ExecutableNotFound("dot")

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=Source, ExecutableNotFound=ExecutableNotFound))

    @flow
    def f():
        source()

    with pytest.raises(GraphvizNotInstalled, match="`dot` program is not on PATH"):
        f.visualize()


def test_tasks_run_as_usual_after_a_trace(headwater_client):
    @flow
    def f():
        return source(5)

    task_graph(f)
    assert f() == 5 and ran == [("source", 5)]
    ran.clear()


def test_a_traced_run_answers_as_a_future_and_a_state():
    stand_in = TracedRun("t-0", False, None)
    assert stand_in.wait() is stand_in and stand_in.state is stand_in and stand_in.done()
    assert not stand_in.is_completed() and stand_in.task_run_id == "t-0"

"""Names for runs: two words, like 'red-orca', easy to say and to type."""

from __future__ import annotations

import random
from typing import Any

_ADJECTIVES = (
    "amber ancient azure bold brave bright brisk calm candid cheerful clever coral crimson curious dapper "
    "daring deft eager earnest electric emerald fancy fearless fiery gentle gilded glossy golden graceful "
    "hasty hidden honest humble indigo ivory jade jolly keen kind lavish lively lucky lunar merry mighty "
    "misty modest nimble noble olive opal patient plucky polite proud quick quiet rapid red rosy ruby "
    "russet rustic saffron scarlet silent silver sleek smart snowy solar spry steady stellar stout sunny "
    "swift taupe teal tender tidy tireless topaz tranquil upbeat valiant vivid warm wild wise witty zany zealous"
).split()

_ANIMALS = (
    "albatross alpaca antelope badger beaver bison bobcat buffalo camel caracal cheetah condor cougar "
    "coyote crane crow dingo dolphin donkey eagle egret elk falcon ferret finch flamingo fox gazelle gecko "
    "gibbon gopher grasshopper grouse hare hawk hedgehog heron hyena ibex ibis iguana jackal jaguar kestrel "
    "kingfisher koala lemur leopard llama loon lynx macaw magpie marmot marten mink mole moose narwhal newt "
    "ocelot orca oriole osprey otter owl panda panther parrot pelican penguin puffin quail rabbit raccoon "
    "raven robin salmon seal shrew skunk sloth sparrow squid stork swan tapir tern tiger toucan turaco "
    "turtle viper vole walrus weasel wolf wombat wren yak zebra"
).split()

_random = random.Random()


def generate_run_name() -> str:
    return f"{_random.choice(_ADJECTIVES)}-{_random.choice(_ANIMALS)}"


def custom_run_name(name: Any, parameters: dict[str, Any], option: str, owner: str) -> str:
    """The name ``flow_run_name`` / ``task_run_name`` gives a run: the template formatted with the
    run's parameters, or what the function returns (called with none; it may read ``headwater.runtime``).

    Raises ``TypeError`` naming the option when the function returns something other than a string.
    """
    if callable(name):
        made = name()
        if not isinstance(made, str):
            raise TypeError(f"{owner}: the {option} function {getattr(name, '__qualname__', name)!r} returned "
                            f"{made!r}, a {type(made).__name__}; it must return a string.")
        return made
    return name.format(**parameters)

"""Each option list is defined once, by the module that owns the concept, and the commands offer exactly it."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from autotask.benchmarks.catalog import SUITES
from autotask.commands import bench, compare, train, tune
from autotask.models.registry import kind_names
from autotask.tuning.search import MODES, SAMPLERS, SCHEDULERS, SearchConfig


def _choices(parser, flag: str):
    action = next(a for a in parser._actions if flag in a.option_strings)
    return tuple(action.choices), action.default


def test_search_options_come_from_the_search_definition():
    for parser in (tune.parser(), compare.parser()):
        assert _choices(parser, "--sampler") == (tuple(SAMPLERS), SearchConfig.sampler)
        assert _choices(parser, "--scheduler") == (tuple(SCHEDULERS), SearchConfig.scheduler)
    assert _choices(tune.parser(), "--mode") == (tuple(MODES), SearchConfig.mode)


def test_bench_offers_the_catalogued_suites_and_each_has_its_entry_point():
    assert _choices(bench.parser(), "--suite")[0] == tuple(SUITES)
    for name, suite in SUITES.items():
        source = importlib.util.find_spec(f"autotask.benchmarks.{suite.module}").origin
        tree = ast.parse(Path(source).read_text())
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert suite.function in functions, name


def test_model_kinds_come_from_the_registry():
    assert _choices(train.parser(), "--model")[0] == tuple(kind_names())

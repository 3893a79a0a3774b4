"""The review benchmark counts only mutants that change behaviour: they are run against the clean function."""

from __future__ import annotations

from bench.assist import review_cases
from bench.assist.mutant_check import changes_behaviour


def test_a_changed_operator_is_told_apart_by_a_generated_input():
    verdict = changes_behaviour("math", "f", "def f(a, b):\n    return a + b\n", "def f(a, b):\n    return a - b\n")
    assert verdict.changed and verdict.inputs >= 1 and "args=" in verdict.witness


def test_an_equivalent_mutant_is_not_counted():
    clean = "def f(a):\n    if a is None:\n        return 0\n    return 0\n"
    verdict = changes_behaviour("math", "f", clean, clean.replace(" is None", " is not None"))
    assert not verdict.changed and verdict.inputs > 10


def test_only_inputs_the_clean_function_accepts_count():
    clean = "def f(a):\n    assert a == 'never drawn'\n    return 1\n"
    assert not changes_behaviour("math", "f", clean, clean.replace("return 1", "return 2")).changed


def test_the_docstring_examples_tell_mutants_apart_and_run_in_the_modules_globals():
    # `sqrt` comes from the module (math); only the example's argument reaches the edit.
    clean = 'def f(a):\n    """\n    >>> f(12345)\n    111.1\n    """\n    return sqrt(a) if a == 12345 else 0\n'
    verdict = changes_behaviour("math", "f", clean, clean.replace("a == 12345", "a != 12345"))
    assert verdict.changed and verdict.witness == "the docstring's examples"


def test_a_mutant_that_loops_forever_is_stopped_and_differs():
    clean = "def f(a):\n    n = 0\n    while n < 3:\n        n += 1\n    return n\n"
    verdict = changes_behaviour("math", "f", clean, clean.replace("n += 1", "n -= 1"))
    assert verdict.changed


def test_benchmark_mutants_all_change_behaviour_and_edit_one_line():
    functions = review_cases.functions(3)
    assert len(functions) == 3
    for function in functions:
        assert 1 <= len(function.mutants) <= 3
        for case in function.mutants:
            clean, mutant = case.clean.splitlines(), case.mutant.splitlines()
            assert [i + 1 for i, (a, b) in enumerate(zip(clean, mutant)) if a != b] == [case.mutated_line]
            module, _, name = case.name.rpartition(".")
            assert changes_behaviour(module, name, case.clean, case.mutant).changed


def test_an_offset_slice_is_the_tail_of_the_longer_list_with_the_same_mutants():
    whole = review_cases.functions(4)
    held_out = review_cases.functions(2, offset=2)
    assert [(f.name, f.mutants) for f in held_out] == [(f.name, f.mutants) for f in whole[2:]]

"""infill batch: recipes, user queries and markers find the right holes in small real files."""

from __future__ import annotations

import dataclasses

import pytest

from infill_lsp.batch.holes import (
    CAPTURE_BEFORE,
    RecipeError,
    compile_query,
    load_recipes,
    marker_holes,
    query_holes,
    recipe_query,
    without_overlaps,
)
from infill_lsp.batch.patches import apply_fills, unified_diff
from infill_lsp.languages import LanguageRegistry

REGISTRY = LanguageRegistry()

PYTHON = '''def add(a, b):
    pass


def sub(a, b):
    """Subtract."""
    ...


class K:
    def m(self):
        raise NotImplementedError("later")

    def n(self):
        raise NotImplementedError


def done(x):
    return x


def almost(x):
    pass
    return x
'''

SOURCES = {
    "python": (PYTHON, ["pass", "...", 'raise NotImplementedError("later")', "raise NotImplementedError"]),
    "rust": (
        'fn f() -> i32 {\n    todo!()\n}\n\nfn g() {\n    unimplemented!();\n}\n\nfn h() {\n    println!("x");\n}\n',
        ["todo!()", "unimplemented!();"],
    ),
    "go": (
        'package p\n\nfunc F() int {\n\tpanic("TODO: implement")\n}\n\nfunc G() {\n\tpanic("boom")\n}\n',
        ['panic("TODO: implement")'],
    ),
    "javascript": (
        'function f(a) {\n  throw new Error("TODO");\n}\nclass A {\n  m() {\n    // TODO\n  }\n'
        '  n() {\n    throw new Error("bad input");\n  }\n}\nconst g = () => {\n  throw new Error("TODO: g");\n};\n',
        ['throw new Error("TODO");', "// TODO", 'throw new Error("TODO: g");'],
    ),
    "typescript": (
        'function f(a: number): number {\n  throw new Error("TODO");\n}\n'
        "class A {\n  m(): void {\n    // TODO later\n  }\n  n(): void {\n    // done\n    go();\n  }\n}\n",
        ['throw new Error("TODO");', "// TODO later"],
    ),
}


def _todo_holes(language: str, text: str):
    support = REGISTRY.get(language)
    recipe = load_recipes()["todo_bodies"]
    query = recipe_query(support, recipe)
    assert query is not None
    return query_holes(text, support.parse(text.encode()), query, recipe=recipe.name)


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_todo_bodies_recipe_finds_placeholder_bodies_only(language):
    text, expected = SOURCES[language]
    holes, _ = without_overlaps(_todo_holes(language, text))
    assert [text[h.start : h.end] for h in holes] == expected


@pytest.mark.parametrize("language", ["javascript", "typescript", "tsx", "php"])
def test_a_todo_comment_is_a_hole_only_as_the_whole_body_of_a_function(language):
    php = "<?php\n" if language == "php" else ""
    fn = "function f($a) {\n" if language == "php" else "function f(a) {\n"
    lone = f"{php}{fn}  // TODO\n}}\n"
    assert [lone[h.start : h.end] for h in _todo_holes(language, lone)] == ["// TODO"]
    not_alone = [
        f"{php}{fn}  // TODO: check a\n  return 1;\n}}\n",  # a note above code, not a placeholder
        f"{php}{fn}  // TODO\n  // and then\n}}\n",
    ]
    if language != "php":  # JavaScript: an if, loop or catch block is not a function's body
        not_alone += ["function f(a) {\n  if (a) {\n    // TODO\n  }\n  return a;\n}\n",
                      "try {\n  g();\n} catch (e) {\n  // TODO\n}\n"]
    for text in not_alone:
        assert _todo_holes(language, text) == [], text
    if language != "php":
        text = ("const o = {\n  m(a) {\n    // TODO\n  },\n};\nconst h = (a) => {\n  /* TODO */\n};\n"
                "const k = function* () {\n  // TODO: yield\n};\n")
        found = [text[h.start : h.end] for h in _todo_holes(language, text)]
        assert found == ["// TODO", "/* TODO */", "// TODO: yield"]


def test_python_todo_bodies_skip_bodies_with_real_statements():
    holes = _todo_holes("python", PYTHON)
    lines = sorted(PYTHON.count("\n", 0, h.start) + 1 for h in holes)
    assert lines == [2, 7, 12, 15]  # not `almost` (pass then return) nor `done`


@pytest.mark.parametrize(
    ("text", "stub"),
    [
        ("def f(x):\n    raise NotImplementedError\n", "raise NotImplementedError"),
        ("def f(x):\n    raise NotImplementedError('TODO')\n", "raise NotImplementedError('TODO')"),
        ("def f(x):\n    raise NotImplementedError(\n        'TODO: x'\n    )\n",
         "raise NotImplementedError(\n        'TODO: x'\n    )"),
        ("def f(x):\n    raise NotImplementedError('Not implemented yet.')\n",
         "raise NotImplementedError('Not implemented yet.')"),
        ("def f(x):\n    raise NotImplementedError(f'implement me')\n", "raise NotImplementedError(f'implement me')"),
        ("def f(x):\n    raise NotImplementedError('')\n", "raise NotImplementedError('')"),
        ('def f(x):\n    """Doc.\n\n    :raises ValueError: when x < 0.\n    """\n    raise NotImplementedError\n',
         "raise NotImplementedError"),
        ("async def f():\n    raise NotImplementedError() from None\n", "raise NotImplementedError() from None"),
        ('def f(x):\n    """Doc."""\n    raise NotImplementedError\n', "raise NotImplementedError"),
        ('class A:\n    def m(self):\n        """Doc."""\n        raise NotImplementedError("later")\n',
         'raise NotImplementedError("later")'),
        ("def f(x):\n    raise NotImplementedError  # subclasses\n", "raise NotImplementedError"),
        ("def f(x):\n    pass  # later\n", "pass"),
        ('def f(x):\n    """Doc."""\n    ...  # later\n', "..."),
    ],
)
def test_python_stubs_raising_not_implemented_or_after_a_docstring_or_before_a_comment_are_holes(text, stub):
    (hole,) = _todo_holes("python", text)
    assert text[hole.start : hole.end] == stub


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    raise ValueError\n",
        "def f(x):\n    raise NotImplementedErrorish()\n",
        "def f(x):\n    raise errors.NotImplementedError\n",
        'def f(x):\n    """Doc."""\n',
        "def f(x):\n    log(x)\n    raise NotImplementedError\n",
        "def f(x):\n    pass\n    pass\n",
    ],
)
def test_python_bodies_that_do_something_are_not_stubs(text):
    assert _todo_holes("python", text) == []



@pytest.mark.parametrize(
    "text",
    [
        # a specific message says why it is not implemented: the raise is the design
        'def f(x):\n    raise NotImplementedError("IDNA 2008 does not utilise nameprep protocol")\n',
        "def f(x):\n    raise NotImplementedError(f'{type(x).__name__} cannot be pickled') from None\n",
        "def f(x):\n    raise NotImplementedError(MESSAGE)\n",
        # the docstring documents the raise
        'def f(x):\n    """Legacy.\n\n    :raises NotImplementedError: Always.\n    """\n'
        "    raise NotImplementedError\n",
        'def f(x):\n    """Legacy.\n\n    Raises:\n        NotImplementedError: unsupported.\n    """\n'
        "    raise NotImplementedError  # on purpose\n",
        'def f(x):\n    """Always raises: use g instead."""\n    raise NotImplementedError\n',
        # abstract
        "class A:\n    @abstractmethod\n    def m(self):\n        raise NotImplementedError\n",
        "class A:\n    @property\n    @abc.abstractmethod\n    def m(self):\n        pass\n",
        "class A(abc.ABC):\n    def m(self):\n        ...\n",
        "class A(Base, metaclass=ABCMeta):\n    def m(self):\n        raise NotImplementedError\n",
    ],
)
def test_python_deliberate_raises_and_abstract_methods_are_not_stubs(text):
    assert _todo_holes("python", text) == []


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("javascript", 'function f() {\n  throw new Error("not implemented");\n}\n'
         'function g() {\n  throw new Error("nameprep is not supported by IDNA 2008");\n}\n',
         ['throw new Error("not implemented");']),
        ("typescript", "function f(): void {\n  throw new Error(`Not implemented yet.`);\n}\n"
         'function g(): void {\n  throw new Error("Use encode() instead");\n}\n',
         ["throw new Error(`Not implemented yet.`);"]),
        ("go", 'package p\n\nfunc F() {\n\tpanic("unimplemented")\n}\n\n'
         'func G() {\n\tpanic("nameprep is not part of IDNA 2008")\n}\n',
         ['panic("unimplemented")']),
        ("rust", 'fn f() {\n    unimplemented!("not implemented")\n}\n\n'
         'fn g() {\n    unimplemented!("nameprep is not part of IDNA 2008");\n}\n\n'
         'fn h() {\n    todo!("write h")\n}\n',
         ['unimplemented!("not implemented")', 'todo!("write h")']),
    ],
)
def test_other_languages_placeholder_messages_are_holes_specific_ones_are_deliberate(language, text, expected):
    holes, _ = without_overlaps(_todo_holes(language, text))
    assert [text[h.start : h.end] for h in holes] == expected

OVERLOADS_AND_PROTOCOLS = """\
import typing


@overload
def f(x: int) -> int: ...
@typing.overload
def f(x: str) -> str:
    ...
def f(x):
    raise NotImplementedError


class P(Protocol):
    def m(self) -> int: ...


class Q(Base, typing.Protocol[T]):
    def m(self) -> int:
        pass


class NotAProtocol(Protocolish):
    def m(self) -> int: ...
"""


def test_overloads_and_protocol_methods_are_definitions_not_stubs():
    holes = _todo_holes("python", OVERLOADS_AND_PROTOCOLS)
    text = OVERLOADS_AND_PROTOCOLS
    assert [(text.count("\n", 0, h.start) + 1, text[h.start : h.end]) for h in holes] == [
        (10, "raise NotImplementedError"),
        (23, "..."),
    ]


def test_overloads_get_no_docstring_their_implementation_does():
    support = REGISTRY.get("python")
    query = recipe_query(support, load_recipes()["missing_docstrings"])
    text = OVERLOADS_AND_PROTOCOLS
    holes = query_holes(text, support.parse(text.encode()), query, recipe="missing_docstrings")
    assert sorted(text.count("\n", 0, h.start) + 1 for h in holes) == [10, 14, 19, 23]  # not the overloads (5, 8)


def test_user_query_skip_capture_drops_holes_inside_it():
    support = REGISTRY.get("python")
    source = '(raise_statement) @hole\n(function_definition name: (identifier) @_n (#eq? @_n "n")) @skip'
    holes = query_holes(PYTHON, support.parse(PYTHON.encode()), compile_query(support, source, "q.scm"), recipe="q")
    assert [PYTHON.count("\n", 0, h.start) + 1 for h in holes] == [12]  # K.m's raise, not K.n's


def test_tsx_uses_the_typescript_recipes():
    text = 'function F(): JSX.Element {\n  throw new Error("TODO");\n}\n'
    holes = _todo_holes("tsx", text)
    assert [text[h.start : h.end] for h in holes] == ['throw new Error("TODO");']


def test_missing_docstrings_insert_before_the_first_statement():
    support = REGISTRY.get("python")
    recipe = load_recipes()["missing_docstrings"]
    holes = query_holes(
        PYTHON,
        support.parse(PYTHON.encode()),
        recipe_query(support, recipe),
        recipe=recipe.name,
        planner=recipe.planner,
    )
    lines = sorted(PYTHON.count("\n", 0, h.start) + 1 for h in holes)
    assert lines == [2, 12, 15, 19, 23]  # every function but `sub`, which has one
    # Planned as infill.writeDocstring plans them: the quotes stay outside the hole.
    assert all(h.start == h.end and h.planner == "docstring" and not h.pinned for h in holes)
    method = next(h for h in holes if PYTHON.count("\n", 0, h.start) + 1 == 12)
    assert method.trailer == "\n        "


def test_languages_without_a_recipe_file_have_no_query():
    assert recipe_query(REGISTRY.get("rust"), load_recipes()["missing_docstrings"]) is None


def test_user_query_with_hole_capture(tmp_path):
    support = REGISTRY.get("python")
    query = compile_query(support, "(return_statement) @hole", "q.scm")
    holes = query_holes(PYTHON, support.parse(PYTHON.encode()), query, recipe="query")
    assert [PYTHON[h.start : h.end] for h in holes] == ["return x", "return x"]
    before = compile_query(support, f"(class_definition) @{CAPTURE_BEFORE}", "q.scm")
    (insert,) = query_holes(PYTHON, support.parse(PYTHON.encode()), before, recipe="query")
    assert insert.start == insert.end == PYTHON.index("class K")


def test_user_query_must_capture_a_hole_and_compile():
    support = REGISTRY.get("python")
    with pytest.raises(RecipeError, match="captures neither"):
        compile_query(support, "(return_statement) @ret", "q.scm")
    with pytest.raises(RecipeError, match="q.scm"):
        compile_query(support, "(no_such_node) @hole", "q.scm")


def test_non_ascii_text_gives_character_offsets():
    text = 'def é():\n    """ü"""\n    pass\n'
    (hole,) = _todo_holes("python", text)
    assert text[hole.start : hole.end] == "pass"


def test_markers_and_overlaps():
    text = "a = <FILL>\nb = <FILL>\n"
    holes = marker_holes(text, "<FILL>")
    assert [(h.start, h.end) for h in holes] == [(4, 10), (15, 21)]
    kept, dropped = without_overlaps(holes + [holes[0]])
    assert kept == holes and not dropped
    assert apply_fills(text, [(4, 10, "1"), (15, 21, "2")]) == "a = 1\nb = 2\n"


def test_unified_diff_names_both_sides():
    diff = unified_diff("pkg/a.py", "x = 1\n", "x = 2\n")
    assert diff.startswith("--- a/pkg/a.py\n+++ b/pkg/a.py\n") and "-x = 1\n+x = 2\n" in diff
    assert unified_diff("a.py", "same\n", "same\n") == ""


def test_a_recipe_query_inheriting_a_missing_folder_is_a_recipe_error(tmp_path):
    support = REGISTRY.get("python")
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "batch_todo_bodies.scm").write_text("; inherits: nowhere\n")
    toy = dataclasses.replace(support, entry=dataclasses.replace(support.entry, query_dir=tmp_path / "toy"))
    with pytest.raises(RecipeError, match="cannot read query .*nowhere"):
        recipe_query(toy, load_recipes()["todo_bodies"])

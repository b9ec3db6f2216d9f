"""End to end: a document in a language without a grammar gets inline completions through the checks that
need no grammar (the fake engine of tests/lsp_fake_engine.py answers the ``FILL:`` text)."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsp_helpers import CLIENTS, SERVER, complete, initialize, open_document
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORTRAN = "! FILL: 'hello'\nprogram hello\n  print *, \nend program hello\n"


@pytest_lsp.fixture(config=SERVER, params=CLIENTS, scope="module")
async def client(lsp_client: LanguageClient, request):
    await initialize(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


async def test_a_document_of_an_unknown_language_gets_an_inline_completion(client: LanguageClient):
    uri = "file:///work/src/x.f90"
    open_document(client, uri, FORTRAN, language_id="fortran")
    items = await complete(client, uri, 2, len("  print *, "))
    assert [i.insert_text for i in items] == ["'hello'"]


async def test_a_fill_an_unknown_language_would_break_is_not_offered(client: LanguageClient):
    uri = "file:///work/src/y.f90"
    open_document(client, uri, FORTRAN.replace("'hello'", "'hello', (1"), language_id="fortran")
    assert await complete(client, uri, 2, len("  print *, ")) == []
    uri = "file:///work/src/Box.groovy"
    java = "// FILL: property;\nclass Box {\n  String property;\n  String get() {\n    return\n  }\n}\n"
    open_document(client, uri, java, language_id="groovy")
    assert await complete(client, uri, 4, len("    return")) == []  # not "returnproperty;"
    uri = "file:///work/src/Box2.groovy"
    open_document(client, uri, java.replace("return\n", "return \n"), language_id="groovy")
    assert [i.insert_text for i in await complete(client, uri, 4, len("    return "))] == ["property;"]

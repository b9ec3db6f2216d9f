"""The next-edit prompt of ``POST /v1/edit/completions``: one user message in the tag layout Mercury's edit
endpoint and Copilot's next-edit prompt use, read into the file, the region to rewrite, the cursor and the
recent diffs.

    <|recently_viewed_code_snippets|> ... <|/recently_viewed_code_snippets|>
    <|current_file_content|>
    current_file_path: PATH            (optional)
    ... <|code_to_edit|> ... <|cursor|> ... <|/code_to_edit|> ...
    <|/current_file_content|>
    <|edit_diff_history|> unified diffs, oldest first <|/edit_diff_history|>

The region (``code_to_edit``) may stand inside the file's content, or after it as a copy of a part of it;
without a file content the region is the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURSOR = "<|cursor|>"
_PATH = re.compile(r"\A\s*current_file_path:[ \t]*(\S[^\n]*)\n")


class EditPromptError(ValueError):
    """The message is not an edit prompt (the HTTP API answers 400 with this text)."""


@dataclass(frozen=True, slots=True)
class EditPrompt:
    path: str
    text: str  # the file, without tags or the cursor marker
    region: tuple[int, int]  # the characters to rewrite
    cursor: int
    diffs: list[str]
    snippets: str  # recently viewed code, as given


def _tagged(message: str, tag: str) -> tuple[int, int] | None:
    """The span of the text between ``<|tag|>`` and ``<|/tag|>`` (None when absent); one newline right after
    the opening and right before the closing tag belongs to the layout, not the text."""
    start = message.find(f"<|{tag}|>")
    if start < 0:
        return None
    start += len(tag) + 4
    end = message.find(f"<|/{tag}|>", start)
    if end < 0:
        raise EditPromptError(f"<|{tag}|> is never closed by <|/{tag}|>")
    if message.startswith("\n", start):
        start += 1
    if end > start and message[end - 1] == "\n":
        end -= 1
    return start, end


def parse_edit_prompt(message: str) -> EditPrompt:
    """The edit prompt in ``message``; EditPromptError naming what is missing or broken."""
    region = _tagged(message, "code_to_edit")
    if region is None:
        raise EditPromptError("the message has no <|code_to_edit|> region")
    snippets = _tagged(message, "recently_viewed_code_snippets")
    history = _tagged(message, "edit_diff_history")
    content = _tagged(message, "current_file_content")
    edit = message[region[0] : region[1]]
    if edit.count(CURSOR) > 1:
        raise EditPromptError("<|code_to_edit|> holds more than one <|cursor|>")
    at = edit.find(CURSOR)
    if content is not None and content[0] <= region[0] and region[1] <= content[1]:
        file = message[content[0] : content[1]]  # the region stands inside the file
        before = file[: region[0] - content[0]].replace("<|code_to_edit|>\n", "").replace("<|code_to_edit|>", "")
        after = file[region[1] - content[0] :]
        after = re.sub(r"\A\n?<\|/code_to_edit\|>\n?", "\n" if after.startswith("\n") else "", after, count=1)
        path, before = _path(before)
        plain = edit.replace(CURSOR, "")
        text, start = before + plain + after, len(before)
    else:
        plain = edit.replace(CURSOR, "")
        file = message[content[0] : content[1]] if content is not None else ""
        path, file = _path(file)
        file = file.replace(CURSOR, "")
        start = file.find(plain) if file else -1
        text = file if start >= 0 else plain
        start = max(0, start)
    if CURSOR in text or "<|code_to_edit|>" in text:
        raise EditPromptError("the file content holds a stray <|cursor|> or <|code_to_edit|>")
    cursor = start + (at if at >= 0 else len(plain))
    diffs = []
    if history is not None:
        body = message[history[0] : history[1]]
        diffs = [part for part in re.split(r"(?m)^(?=--- )", body) if "@@" in part] or ([body] if body.strip() else [])
    return EditPrompt(path, text, (start, start + len(plain)), cursor, diffs,
                      message[snippets[0] : snippets[1]] if snippets else "")


def _path(text: str) -> tuple[str, str]:
    match = _PATH.match(text)
    return (match.group(1).strip(), text[match.end() :]) if match else ("", text)

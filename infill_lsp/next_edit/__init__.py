"""Next-edit suggestions: the follow-up edit near the cursor, from what the user just changed.

``minimal``: a rewritten span as the smallest edits; ``rule``: the repeat-the-last-edit rule; ``predict``: the
pure plan (which spans to ask the engine about, as drafts) and judgement (which answers become edits).
"""

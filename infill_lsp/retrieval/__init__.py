"""Repository context: snippets from several sources, each within a time budget, packed into one block.

``snippets`` names the sources and their priority; ``nearby`` finds the definitions of the names near the
cursor, ``similar`` the windows of other files most like the code before it; ``gather`` runs the sources
for one cursor and ``packer`` writes the block the prompt carries before the prefix.
"""

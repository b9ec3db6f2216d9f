-- Unit checks of editors/neovim/lua/infill/text.lua, run by tests/test_neovim_e2e.py as
-- `nvim --headless --clean -l tests/neovim_text_spec.lua PLUGIN_DIR`. Exits 1 on the first failure.
vim.opt.runtimepath:prepend(assert(_G.arg[1], 'usage: nvim -l neovim_text_spec.lua PLUGIN_DIR'))
local text = require('infill.text')

local failures, checks = 0, 0
local function eq(what, got, want)
  checks = checks + 1
  if not vim.deep_equal(got, want) then
    failures = failures + 1
    io.stderr:write(('FAIL %s: got %s, want %s\n'):format(what, vim.inspect(got), vim.inspect(want)))
  end
end

-- positions: "s = f('😀', )" has the emoji at byte 7 (4 bytes, 2 utf-16 units, 1 utf-32 unit)
local line = "s = f('😀', )"
local paren = #line - 1 -- byte column of the closing paren
eq('utf-8 column', text.byte_col(line, paren, 'utf-8'), paren)
eq('utf-16 column', text.byte_col(line, paren - 2, 'utf-16'), paren)
eq('utf-32 column', text.byte_col(line, paren - 3, 'utf-32'), paren)
eq('past the end clamps', text.byte_col(line, 400, 'utf-16'), #line)
eq('negative clamps', text.byte_col(line, -1, 'utf-8'), 0)
eq('utf-16 character', text.lsp_character(line, paren, 'utf-16'), paren - 2)
eq('utf-32 character', text.lsp_character(line, paren, 'utf-32'), paren - 3)
eq('utf-8 character', text.lsp_character(line, paren, 'utf-8'), paren)

-- suggestions relative to the cursor
eq('plain insert', text.suggestion('x = ', 4, 4, 4, 'foo()'), { ghost = 'foo()', replace = '', text = 'foo()' })
eq('replaces closers', text.suggestion('f()', 2, 2, 3, 'a, b)'), { ghost = 'a, b)', replace = ')', text = 'a, b)' })
eq('typed prefix skipped', text.suggestion('x = fo', 6, 4, 6, 'foo()'), { ghost = 'o()', replace = '', text = 'foo()' })
eq('mismatched prefix', (text.suggestion('x = ba', 6, 4, 6, 'foo()')), nil)
eq('range after the cursor', (text.suggestion('abc', 1, 2, 2, 'x')), nil)
eq('nothing new', (text.suggestion('f()', 2, 2, 3, ')')), nil)

-- drawing
eq('tail drawn by the buffer', { text.display('a, b)', ')') }, { 'a, b', {} })
eq('other tails stay', { text.display('a, b]', ')') }, { 'a, b]', {} })
eq('lines below', { text.display('if x:\n    y\n', '') }, { 'if x:', { '    y', '' } })
eq('tabs expanded', text.expand_tabs('\tx\ty', 4, 0), '    x   y')
eq('tabs from a column', text.expand_tabs('\tx', 4, 2), '  x')

-- partial accepts
eq('word', text.next_word('foo(bar)'), 'foo')
eq('word with blanks', text.next_word('  bar baz'), '  bar')
eq('punctuation run', text.next_word('(), x'), '(),')
eq('newline and indent', text.next_word('\n    return x'), '\n    ')
eq('line', text.next_line('a = 1\nb = 2'), 'a = 1')
eq('next line', text.next_line('\nb = 2\nc'), '\nb = 2')
eq('end position, one line', { text.end_position(3, 4, 'abc') }, { 3, 7 })
eq('end position, lines', { text.end_position(3, 4, 'ab\ncde') }, { 4, 3 })

-- typing through
local s = { ghost = 'compute(1)', replace = '', text = 'compute(1)' }
eq('typed the next chars', text.advance(s, 'com'), { ghost = 'pute(1)', replace = '', text = 'compute(1)' })
eq('typed something else', text.advance(s, 'x'), nil)
eq('typed all of it', text.advance(s, 'compute(1)'), nil)
eq('only the replaced tail is left', text.advance({ ghost = '1)', replace = ')', text = '1)' }, '1'), nil)

-- the workspace index in :InfillStatus (commands.lua)
local commands = require('infill.commands')
eq('no index', commands.index_line(nil), nil)
eq('index building', commands.index_line({ state = 'building', files = 1200 }), 'index: building, 1,200 files so far')
eq(
  'index ready from the cache',
  commands.index_line({
    state = 'ready', files = 407, lines = 92081, definitions = 3970, build_seconds = 0.055, from_cache = 407,
    age_seconds = 12.4,
  }),
  'index: 407 files, 92,081 lines, 3,970 definitions; built in 0.1 s (407 files unchanged, from the cache), 12 s ago'
)
eq(
  'index capped',
  commands.index_line({
    state = 'ready', files = 20000, lines = 10, definitions = 0, build_seconds = 4, age_seconds = 600, capped = 'max_files',
  }),
  'index: 20,000 files, 10 lines, 0 definitions; built in 4.0 s, 10 min ago; stopped at the max_files cap'
)
local with_index = commands.status_lines({ engine = { state = 'ready' }, index = { state = 'ready', files = 2, lines = 9,
  definitions = 3, build_seconds = 0.01, age_seconds = 1 } })
eq('status shows the index', with_index[#with_index], 'index: 2 files, 9 lines, 3 definitions; built in 0.0 s, 1 s ago')

io.stdout:write(('%d checks, %d failures\n'):format(checks, failures))
os.exit(failures == 0 and 0 or 1)

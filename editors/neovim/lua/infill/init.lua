--- infill for Neovim: starts `infill serve` for the buffers of files (every filetype unless `filetypes`
--- limits it) and shows its inline completions as ghost text, with keys to accept (all, a word, a line),
--- cycle and dismiss them.
---
--- ```lua
--- require('infill').setup({ settings = { engine = { device = 'cuda' } } })
--- ```

local commands = require('infill.commands')
local server = require('infill.server')

local api = vim.api
local M = {}

---@class infill.Keymaps
---@field accept? string|string[]|false
---@field accept_word? string|string[]|false
---@field accept_line? string|string[]|false
---@field next? string|string[]|false
---@field prev? string|string[]|false
---@field dismiss? string|string[]|false
---@field suggest? string|string[]|false
---@field next_edit? string|string[]|false Normal mode, only while a next edit is pending: go to it, then apply it
---@field next_edit_dismiss? string|string[]|false Normal mode, only while a next edit is pending: dismiss it

---@class infill.Options
---@field cmd? string[] the server command (default: `infill serve` from PATH, else from the clone's .venv)
---@field cmd_env? table<string, string>
---@field filetypes? string[]|false filetypes to attach to; nil or false: every file
---@field root_markers? string[]
---@field settings? table initializationOptions (and workspace/didChangeConfiguration)
---@field debounce_ms? integer wait after the last keystroke before asking (0.11 ghost text)
---@field native? boolean|'auto' use vim.lsp.inline_completion ('auto': on Neovim 0.12+)
---@field keymaps? infill.Keymaps|false insert-mode keys (and the next edit's Normal-mode ones); false: none

---@type infill.Options
M.defaults = {
  cmd = nil, -- found by require('infill.server').resolve
  cmd_env = nil,
  filetypes = nil, -- every buffer of a file
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  settings = {},
  debounce_ms = 75,
  native = 'auto',
  keymaps = {
    accept = { '<Tab>', '<M-l>' },
    accept_word = '<M-Right>',
    accept_line = '<M-C-Right>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    suggest = '<M-\\>',
    next_edit = '<Tab>', -- Normal mode, only while a next edit is pending
    next_edit_dismiss = '<Esc>',
  },
}

---@type infill.Options?
M.options = nil

--- Where the running server's command came from: 'cmd', 'PATH' or the clone's .venv/bin/infill; nil when
--- none was found (then `M.missing` says why).
---@type string?
M.cmd_source = nil
---@type string?
M.missing = nil

local backend ---@type table infill.ghost or infill.native

--- `opts` on top of the defaults: tables of settings merge deeply, lists and keys replace.
local function merge(opts)
  local out = vim.deepcopy(M.defaults)
  for key, value in pairs(opts or {}) do
    if key == 'settings' and type(value) == 'table' then
      out.settings = vim.tbl_deep_extend('force', out.settings, value)
    elseif key == 'keymaps' and type(value) == 'table' then
      out.keymaps = vim.tbl_extend('force', out.keymaps, value)
    else
      out[key] = value
    end
  end
  if opts and type(opts.init_options) == 'table' then -- the name vim.lsp.Config uses
    out.settings = vim.tbl_deep_extend('force', out.settings, opts.init_options)
    out.init_options = nil
  end
  return out
end

local function use_native(native)
  local available = require('infill.native').available()
  if native == true and not available then
    vim.notify_once('infill: vim.lsp.inline_completion needs Neovim 0.12+; using infill\'s ghost text', vim.log.levels.WARN)
  end
  return available and (native == true or native == 'auto')
end

local function buf_or_current(buf)
  return (buf == nil or buf == 0) and api.nvim_get_current_buf() or buf
end

-- ---- actions (also for mappings of your own) ---------------------------------------------------

--- Accept the whole suggestion. Returns false when none is shown.
function M.accept(buf)
  return backend ~= nil and backend.accept(buf_or_current(buf), 'all')
end

--- Accept the suggestion's next word.
function M.accept_word(buf)
  return backend ~= nil and backend.accept(buf_or_current(buf), 'word')
end

--- Accept the suggestion's next line.
function M.accept_line(buf)
  return backend ~= nil and backend.accept(buf_or_current(buf), 'line')
end

--- Show the next candidate (asks for several when only one was offered).
function M.next(buf)
  return backend ~= nil and backend.cycle(buf_or_current(buf), 1)
end

--- Show the previous candidate.
function M.prev(buf)
  return backend ~= nil and backend.cycle(buf_or_current(buf), -1)
end

--- Hide the suggestion (and tell the server it was dismissed).
function M.dismiss(buf)
  return backend ~= nil and backend.dismiss(buf_or_current(buf))
end

--- Ask for a suggestion now.
function M.suggest(buf)
  return backend ~= nil and backend.suggest(buf_or_current(buf))
end

--- Whether a suggestion is shown.
function M.visible(buf)
  return backend ~= nil and backend.visible(buf_or_current(buf))
end

--- The shown suggestion: { ghost = text after the cursor, replace = text it replaces, text = item text }.
function M.current(buf)
  return backend ~= nil and backend.current(buf_or_current(buf)) or nil
end

--- Go to the pending next edit, or apply it when the cursor is in it. False when none is pending.
function M.next_edit(buf)
  return require('infill.next_edit').jump_or_apply(buf_or_current(buf))
end

--- Hide the pending next edit and tell the server it was turned down. False when none is pending.
function M.next_edit_dismiss(buf)
  return require('infill.next_edit').dismiss(buf_or_current(buf))
end

--- The pending next edit: { text, range (LSP), row, col, end_row, end_col (0-based, bytes) }, or nil.
function M.next_edit_current(buf)
  return require('infill.next_edit').current(buf_or_current(buf))
end

M.fill_selection = commands.fill_selection
M.complete_body = function(on_done)
  commands.at_cursor(commands.COMMANDS.complete_body, on_done)
end
M.docstring = function(on_done)
  commands.at_cursor(commands.COMMANDS.docstring, on_done)
end
M.status = commands.fetch_status
M.show_status = commands.show_status
M.restart = commands.restart

-- ---- keys ------------------------------------------------------------------------------------

--- What `lhs` did before infill mapped it in `buf`, as a function that does it.
local function fallback_for(buf, lhs)
  local prev = vim.fn.maparg(lhs, 'i', false, true)
  local keys, mode = vim.keycode(lhs), 'in'
  if type(prev) == 'table' and next(prev) and not (prev.desc or ''):find('^infill: ') then
    local plug = ('<Plug>(infill-fallback-%s)'):format(lhs:gsub('[<>]', ''))
    local rhs = prev.callback or prev.rhs
    if rhs then
      vim.keymap.set('i', plug, rhs, {
        buffer = prev.buffer == 1 and buf or nil,
        expr = prev.expr == 1,
        remap = prev.noremap ~= 1,
        silent = prev.silent == 1,
        replace_keycodes = prev.expr == 1 and prev.replace_keycodes == 1 or nil,
      })
      keys, mode = vim.keycode(plug), 'im'
    end
  end
  return function()
    api.nvim_feedkeys(keys, mode, false)
  end
end

local ACTIONS = {
  accept = M.accept,
  accept_word = M.accept_word,
  accept_line = M.accept_line,
  next = M.next,
  prev = M.prev,
  dismiss = M.dismiss,
  suggest = M.suggest,
}

local function set_keymaps(buf, keymaps)
  if not keymaps then
    return
  end
  for name, action in pairs(ACTIONS) do
    local lhss = keymaps[name]
    for _, lhs in ipairs(type(lhss) == 'string' and { lhss } or lhss or {}) do
      local fallback = fallback_for(buf, lhs)
      vim.keymap.set('i', lhs, function()
        if not action(buf) then
          fallback()
        end
      end, { buffer = buf, silent = true, desc = 'infill: ' .. name:gsub('_', ' ') })
    end
  end
end

-- ---- attaching -------------------------------------------------------------------------------

local function attach(buf, client)
  if backend.attached(buf) then
    return
  end
  backend.attach(buf, client.id)
  require('infill.cursor').attach(buf, client.id)
  require('infill.next_edit').attach(buf, client.id)
  set_keymaps(buf, M.options.keymaps)
end

local ghost_hl ---@type table? the InfillGhost this plugin set last

--- InfillGhost links to Comment, whose colour the default colorscheme gives only with 'termguicolors': without
--- it (a terminal or tmux without true colour) the suggestion would look typed, so it is dark grey there.
--- An InfillGhost of the user's is left alone.
local function set_highlights()
  local current = api.nvim_get_hl(0, { name = 'InfillGhost' })
  if next(current) ~= nil and not vim.deep_equal(current, ghost_hl) then
    return
  end
  local comment = api.nvim_get_hl(0, { name = 'Comment', link = false })
  if vim.o.termguicolors or comment.ctermfg then
    api.nvim_set_hl(0, 'InfillGhost', { link = 'Comment' })
  else
    api.nvim_set_hl(0, 'InfillGhost', { fg = comment.fg, ctermfg = 8, italic = comment.italic })
  end
  ghost_hl = api.nvim_get_hl(0, { name = 'InfillGhost' })
  api.nvim_set_hl(0, 'InfillHint', { link = 'NonText', default = true })
  api.nvim_set_hl(0, 'InfillNextEditDelete', { strikethrough = true, ctermfg = 1, fg = '#e06c75', default = true })
  api.nvim_set_hl(0, 'InfillNextEditAdd', { link = 'DiffAdd', default = true })
  api.nvim_set_hl(0, 'InfillNextEditSign', { link = 'DiagnosticSignHint', default = true })
end

--- Start the server for `buf`, a file without a filetype (`vim.lsp.enable` starts servers on FileType).
local function start_without_filetype(buf)
  if vim.bo[buf].filetype ~= '' or not server.serves(buf, M.options.filetypes) then
    return
  end
  if #vim.lsp.get_clients({ bufnr = buf, name = commands.NAME }) > 0 then
    return
  end
  local config = vim.deepcopy(vim.lsp.config[commands.NAME])
  config.root_dir = vim.fs.root(buf, config.root_markers or {})
  vim.lsp.start(config, { bufnr = buf, reuse_client = config.reuse_client })
end

--- Start (or reconfigure) infill. Safe to call again: running servers get the new settings.
---@param opts? infill.Options
function M.setup(opts)
  M.options = merge(opts)
  local o = M.options
  backend = use_native(o.native) and require('infill.native') or require('infill.ghost')
  if backend.configure then
    backend.configure({ debounce_ms = o.debounce_ms })
  end
  require('infill.next_edit').configure({ settings = o.settings, keys = o.keymaps })
  set_highlights()
  api.nvim_create_autocmd({ 'ColorScheme', 'OptionSet' }, {
    group = api.nvim_create_augroup('infill.highlights', { clear = true }),
    pattern = { '*', 'termguicolors' },
    callback = function(args)
      if args.event == 'ColorScheme' or args.match == 'termguicolors' then
        set_highlights()
      end
    end,
  })

  local cmd, source = server.resolve(o.cmd)
  if not cmd then
    M.cmd_source, M.missing = nil, source
    vim.schedule(function() -- after startup: not an error of the init.lua that called setup()
      vim.notify(server.message(source), vim.log.levels.ERROR)
    end)
    return
  end
  M.cmd_source, M.missing = source, nil

  local group = api.nvim_create_augroup('infill', { clear = true })
  api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == commands.NAME then
        attach(args.buf, client)
      end
    end,
  })
  api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == commands.NAME and backend.attached(args.buf) then
        backend.detach(args.buf)
        require('infill.cursor').detach(args.buf)
        require('infill.next_edit').detach(args.buf)
      end
    end,
  })
  api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    callback = function(args)
      vim.schedule(function() -- after filetype detection
        if api.nvim_buf_is_valid(args.buf) then
          start_without_filetype(args.buf)
        end
      end)
    end,
  })

  local settings = server.wire_settings(o.settings)
  vim.lsp.config(commands.NAME, {
    cmd = cmd,
    cmd_env = o.cmd_env,
    root_markers = o.root_markers,
    -- every filetype; `filetypes` is checked here with the rest (only files: not help, terminal, prompt or
    -- scratch buffers), so that setup() again with fewer limits is not merged with the old list
    root_dir = function(buf, on_dir)
      if server.serves(buf, o.filetypes) then
        on_dir(vim.fs.root(buf, o.root_markers or {}))
      end
    end,
    -- the settings go once, flat, as VS Code sends them; setup() again sends them to running servers
    init_options = settings,
    -- one server for every project: it keeps no per-root state and shares one engine anyway
    reuse_client = function(client, config)
      return client.name == config.name
    end,
  })
  vim.lsp.enable(commands.NAME)
  for _, buf in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(buf) then
      start_without_filetype(buf)
    end
  end

  for _, client in ipairs(vim.lsp.get_clients({ name = commands.NAME })) do
    client:notify('workspace/didChangeConfiguration', { settings = settings })
    for buf in pairs(client.attached_buffers) do
      attach(buf, client)
    end
  end
end

return M

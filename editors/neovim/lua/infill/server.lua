--- The language server's command and the buffers it serves: `cmd` if given, else `infill` on PATH,
--- else the `.venv` of the clone this plugin lives in; every buffer of a real file unless `filetypes`
--- limits it; the settings as the server reads them.

local M = {}

local uv = vim.uv or vim.loop

--- The folder of the clone holding this plugin: this file is `<clone>/editors/neovim/lua/infill/server.lua`.
---@return string?
function M.clone_dir()
  local source = debug.getinfo(1, 'S').source
  if source:sub(1, 1) ~= '@' then
    return nil
  end
  local dir = vim.fs.normalize(vim.fn.fnamemodify(source:sub(2), ':p'))
  for _ = 1, 5 do
    dir = vim.fs.dirname(dir)
  end
  return dir
end

--- The `infill` script of the clone's virtual environment (whether or not it exists).
---@return string?
function M.venv_server()
  local clone = M.clone_dir()
  if not clone then
    return nil
  end
  if vim.fn.has('win32') == 1 then
    return clone .. '/.venv/Scripts/infill.exe'
  end
  return clone .. '/.venv/bin/infill'
end

local SETUP = "require('infill').setup({ cmd = { '%s', 'serve' } })"

--- How to get a server: the exact commands, for this clone where the plugin lives in one.
---@return string[]
function M.fixes()
  local venv, clone = M.venv_server(), M.clone_dir()
  local out = {}
  if venv and clone and uv.fs_stat(clone .. '/Makefile') then
    out[#out + 1] = ('run `make demo` in %s (it installs %s)'):format(clone, venv)
  end
  out[#out + 1] = '`pip install infill-diffusion` puts `infill` on PATH'
  out[#out + 1] = 'or name the server: ' .. SETUP:format('/path/to/.venv/bin/infill')
  return out
end

--- The message for a server that is not found: the problem, then the fixes.
---@param problem string
---@return string
function M.message(problem)
  return ('infill: %s; no completions.\nFix: %s'):format(problem, table.concat(M.fixes(), ',\n  '))
end

--- The server command: `cmd` as given (when it runs), else `{ 'infill', 'serve' }` from PATH, else the
--- clone's `.venv/bin/infill`. Without one: nil and what is missing (for `message`).
---@param cmd? string[]|function
---@return string[]|function|nil cmd
---@return string source where the command comes from ('cmd', 'PATH' or the script's path), or the problem
function M.resolve(cmd)
  if cmd ~= nil then
    if type(cmd) ~= 'table' or type(cmd[1]) ~= 'string' then
      return cmd, 'cmd' -- a function (an RPC client of the user's): taken as it is
    end
    if vim.fn.executable(cmd[1]) == 1 then
      return cmd, 'cmd'
    end
    return nil, ('the server command `%s` (`cmd` in setup) is not an executable file'):format(cmd[1])
  end
  if vim.fn.executable('infill') == 1 then
    return { 'infill', 'serve' }, 'PATH'
  end
  local venv = M.venv_server()
  if venv and vim.fn.executable(venv) == 1 then
    return { venv, 'serve' }, venv
  end
  return nil, ('the language server was not found: no `infill` on PATH, no %s'):format(venv or '.venv/bin/infill')
end

--- Whether `buf` is a buffer infill serves: a file (not help, terminal, prompt, quickfix or a plugin's
--- scratch buffer, nor a `scheme://` one), of one of `filetypes` when that is a list.
---@param buf integer
---@param filetypes? string[]|false
---@return boolean
function M.serves(buf, filetypes)
  if not vim.api.nvim_buf_is_valid(buf) or vim.bo[buf].buftype ~= '' then
    return false
  end
  local name = vim.api.nvim_buf_get_name(buf)
  if name == '' or name:match('^%a[%w+.-]*://') then
    return false
  end
  return type(filetypes) ~= 'table' or vim.tbl_contains(filetypes, vim.bo[buf].filetype)
end

--- `settings` as they go to the server (initializationOptions, workspace/didChangeConfiguration): `engine` an
--- object even when empty (Neovim sends an empty Lua table as a JSON list), and `nextEditInlineCompletion`
--- false unless set: the plugin shows next edits itself (`infill.next_edit`), and its ghost text would draw a
--- replacing next edit as an insertion.
---@param settings? table
---@return table
function M.wire_settings(settings)
  local out = vim.deepcopy(settings or {})
  local own = type(out.infill) == 'table' and out.infill or out -- the server reads an `infill` section alone
  if own.nextEditInlineCompletion == nil and own.next_edit_inline_completion == nil then
    own.nextEditInlineCompletion = false
  end
  if type(out.engine) == 'table' and vim.tbl_isempty(out.engine) then
    out.engine = vim.empty_dict()
  end
  return out
end

return M

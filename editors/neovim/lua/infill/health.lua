--- :checkhealth infill: Neovim version, the server executable, the running server and its engine.

local commands = require('infill.commands')

local health = vim.health
local M = {}

local STATUS_TIMEOUT_MS = 3000
local RUN_TIMEOUT_MS = 15000

local function check_neovim()
  if vim.fn.has('nvim-0.11') == 1 then
    local native = require('infill.native').available()
    local v = vim.version()
    health.ok(('Neovim %d.%d.%d (%s)'):format(
      v.major,
      v.minor,
      v.patch,
      native and 'vim.lsp.inline_completion available' or "infill's own ghost text"
    ))
  else
    health.error('Neovim 0.11 or newer is needed', { 'Upgrade Neovim' })
  end
end

local function check_executable(options)
  local server = require('infill.server')
  local cmd, source = server.resolve(options.cmd)
  if not cmd then
    health.error(source, server.fixes())
    return
  end
  if type(cmd) ~= 'table' then
    health.ok('server: the function in `cmd`')
    return
  end
  local exe = cmd[1]
  local how = source == 'cmd' and 'from `cmd`' or source == 'PATH' and 'from PATH' or 'beside the plugin'
  health.ok(('server executable: %s (%s)'):format(vim.fn.exepath(exe), how))
  -- `serve --help` loads the server's entry point without starting it: a broken install fails here
  local args = vim.list_extend(vim.deepcopy(cmd), { '--help' })
  local ok, result = pcall(function()
    return vim.system(args, { text = true, env = options.cmd_env }):wait(RUN_TIMEOUT_MS)
  end)
  if not ok then
    health.error(('could not run %s: %s'):format(table.concat(args, ' '), tostring(result)))
  elseif result.code ~= 0 then
    health.error(('%s exited with %d'):format(table.concat(args, ' '), result.code), { result.stderr or '' })
  else
    health.ok(('`%s` runs'):format(table.concat(args, ' ')))
  end
end

local function check_server()
  local client = commands.client()
  if not client then
    health.info('no infill language server is running: open a file to start one')
    return
  end
  local info = client.server_info or {}
  health.ok(('language server %s %s running (client %d, position encoding %s)'):format(
    info.name or 'infill',
    info.version or '?',
    client.id,
    client.offset_encoding
  ))
  local response, err = client:request_sync(commands.STATUS, vim.empty_dict(), STATUS_TIMEOUT_MS)
  if not response then
    health.warn(('infill/status did not answer: %s'):format(tostring(err)))
    return
  end
  if response.err or type(response.result) ~= 'table' then
    health.warn(('infill/status failed: %s'):format(vim.inspect(response.err)))
    return
  end
  local lines = commands.status_lines(response.result)
  local state = (response.result.engine or {}).state
  if state == 'ready' then
    health.ok(lines[1])
  elseif state == 'down' then
    health.error(lines[1], { 'See the last error below; :InfillRestart starts the engine again' })
  else
    health.info(lines[1])
  end
  for i = 2, #lines do
    health.info(lines[i])
  end
end

function M.check()
  health.start('infill')
  check_neovim()
  local infill = package.loaded['infill']
  local options = infill and infill.options
  if not options then
    health.warn("require('infill').setup() has not been called", { "Call require('infill').setup{} in your config" })
    options = require('infill').defaults
  else
    health.ok('setup() called; filetypes: ' .. (type(options.filetypes) == 'table' and table.concat(options.filetypes, ', ') or 'every file'))
  end
  check_executable(options)
  check_server()
end

return M

--- The edit commands, status and restart: `workspace/executeCommand` and `infill/status` requests.

local text = require('infill.text')

local api = vim.api
local M = {}

M.NAME = 'infill'
M.STATUS = 'infill/status'
M.COMMANDS = {
  fill_selection = 'infill.fillSelection',
  complete_body = 'infill.completeBody',
  docstring = 'infill.writeDocstring',
  restart = 'infill.restartEngine',
}

local function err_message(err)
  return type(err) == 'table' and (err.message or vim.inspect(err)) or tostring(err)
end

--- The infill client of `buf`, else any running infill client.
---@param buf? integer
---@return vim.lsp.Client?
function M.client(buf)
  local attached = vim.lsp.get_clients({ bufnr = buf or api.nvim_get_current_buf(), name = M.NAME })
  return attached[1] or vim.lsp.get_clients({ name = M.NAME })[1]
end

local function require_client(buf)
  local client = M.client(buf)
  if not client then
    vim.notify('infill: the language server is not running for this buffer', vim.log.levels.WARN)
  end
  return client
end

--- Run a server command; `on_done(err)` gets called when the server answered (it applies the
--- edits itself, with workspace/applyEdit, before answering).
---@param command string
---@param arguments table
---@param on_done? fun(err: any)
---@param buf? integer
function M.execute(command, arguments, on_done, buf)
  buf = buf or api.nvim_get_current_buf()
  local client = require_client(buf)
  if not client then
    if on_done then
      on_done('the language server is not running')
    end
    return
  end
  local params = { command = command, arguments = arguments }
  client:request('workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify(('infill: %s failed: %s'):format(command, err_message(err)), vim.log.levels.ERROR)
    end
    if on_done then
      on_done(err, result)
    end
  end, buf)
end

--- The LSP range of rows line1..line2 (1-based) as last selected: characterwise when the
--- visual marks lie on those rows and the selection was not linewise, else whole lines.
---@param buf integer
---@param line1 integer
---@param line2 integer
---@param encoding string
---@return lsp.Range
function M.selection_range(buf, line1, line2, encoding)
  local from, to = vim.fn.getpos("'<"), vim.fn.getpos("'>")
  local lines = api.nvim_buf_get_lines(buf, line1 - 1, line2, false)
  local first, last = lines[1] or '', lines[#lines] or ''
  local charwise = from[2] == line1 and to[2] == line2 and vim.fn.visualmode() ~= 'V'
  if not charwise then
    return {
      start = { line = line1 - 1, character = 0 },
      ['end'] = { line = line2 - 1, character = text.lsp_character(last, #last, encoding) },
    }
  end
  local start_col = math.min(from[3] - 1, #first)
  local end_col = math.min(to[3] - 1, #last)
  if end_col < #last then -- '> marks the first byte of the last character: take all of it
    end_col = end_col + 1 + vim.str_utf_end(last, end_col + 1)
  end
  return {
    start = { line = line1 - 1, character = text.lsp_character(first, start_col, encoding) },
    ['end'] = { line = line2 - 1, character = text.lsp_character(last, end_col, encoding) },
  }
end

--- :InfillFillSelection [instruction] over a range (usually the visual selection).
---@param opts { line1: integer, line2: integer, range: integer, args: string }
---@param on_done? fun(err: any)
function M.fill_selection(opts, on_done)
  local buf = api.nvim_get_current_buf()
  local client = require_client(buf)
  if not client then
    return
  end
  if opts.range == 0 then
    vim.notify('infill: select the code to fill first (:\'<,\'>InfillFillSelection)', vim.log.levels.WARN)
    return
  end
  local args = {
    uri = vim.uri_from_bufnr(buf),
    range = M.selection_range(buf, opts.line1, opts.line2, client.offset_encoding),
  }
  local instruction = vim.trim(opts.args or '')
  if instruction ~= '' then
    args.instruction = instruction
  end
  M.execute(M.COMMANDS.fill_selection, { args }, on_done, buf)
end

--- :InfillCompleteBody and :InfillDocstring: act on the definition at the cursor.
---@param command string
---@param on_done? fun(err: any)
function M.at_cursor(command, on_done)
  local buf = api.nvim_get_current_buf()
  local client = require_client(buf)
  if not client then
    return
  end
  local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  M.execute(command, { { uri = vim.uri_from_bufnr(buf), position = position } }, on_done, buf)
end

--- Fetch `infill/status`; `callback(err, status)`.
---@param callback fun(err: any, status: table?)
function M.fetch_status(callback)
  local client = M.client()
  if not client then
    callback('the language server is not running', nil)
    return
  end
  client:request(M.STATUS, vim.empty_dict(), function(err, result)
    callback(err, result)
  end)
end

local function ms(value)
  if type(value) ~= 'number' then
    return '?'
  end
  return value < 1000 and ('%d ms'):format(math.floor(value + 0.5)) or ('%.1f s'):format(value / 1000)
end

--- The status as lines of text.
--- "12 s", "5 min", "2 h": an age in a few characters.
---@param seconds number
---@return string
function M.format_age(seconds)
  if seconds < 90 then
    return ('%d s'):format(math.floor(seconds + 0.5))
  elseif seconds < 5400 then
    return ('%d min'):format(math.floor(seconds / 60 + 0.5))
  end
  return ('%d h'):format(math.floor(seconds / 3600 + 0.5))
end

--- The workspace index in one line (nil when there is none: no workspace folders, or indexing off).
---@param index table|nil
---@return string|nil
function M.index_line(index)
  if type(index) ~= 'table' then
    return nil
  end
  local function count(n)
    local s = tostring(math.floor(tonumber(n) or 0))
    return (s:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', ''))
  end
  if index.state == 'building' then
    return ('index: building, %s files so far'):format(count(index.files))
  elseif index.state ~= 'ready' then
    return 'index: ' .. tostring(index.state or 'unknown')
  end
  local line = ('index: %s files, %s lines, %s definitions; built in %.1f s'):format(
    count(index.files),
    count(index.lines),
    count(index.definitions),
    tonumber(index.build_seconds) or 0
  )
  if (tonumber(index.from_cache) or 0) > 0 then
    line = line .. (' (%s files unchanged, from the cache)'):format(count(index.from_cache))
  end
  if type(index.age_seconds) == 'number' then
    line = line .. (', %s ago'):format(M.format_age(index.age_seconds))
  end
  if type(index.capped) == 'string' and index.capped ~= '' then
    line = line .. ('; stopped at the %s cap'):format(index.capped)
  end
  return line
end

---@param status table
---@return string[]
function M.status_lines(status)
  local engine = status.engine or {}
  local lines = {
    ('infill %s: engine %s (%s mode)'):format(status.version or '?', engine.state or 'unknown', engine.mode or '?'),
  }
  if engine.url then
    lines[#lines + 1] = ('remote engine at %s'):format(engine.url)
  end
  if engine.model then
    lines[#lines + 1] = ('model %s on %s (%s%s)'):format(
      engine.model,
      engine.device or '?',
      engine.backend or '?',
      engine.trained == false and ', untrained' or ''
    )
  end
  local latency = engine.latency_ms or {}
  if type(latency.count) == 'number' and latency.count > 0 then
    lines[#lines + 1] = ('latency last %s, p50 %s, p90 %s over %d requests'):format(
      ms(latency.last),
      ms(latency.p50),
      ms(latency.p90),
      latency.count
    )
  end
  if type(status.requests) == 'table' then
    local parts = {}
    for _, key in ipairs({ 'requests', 'answered', 'empty', 'superseded', 'cancelled' }) do
      if status.requests[key] then
        parts[#parts + 1] = ('%d %s'):format(status.requests[key], key)
      end
    end
    lines[#lines + 1] = 'requests: ' .. table.concat(parts, ', ')
  end
  local index = M.index_line(status.index)
  if index then
    lines[#lines + 1] = index
  end
  if type(engine.last_error) == 'string' and engine.last_error ~= '' then
    lines[#lines + 1] = 'last error: ' .. engine.last_error
  end
  return lines
end

--- :InfillStatus
function M.show_status()
  M.fetch_status(function(err, status)
    if err or type(status) ~= 'table' then
      vim.notify('infill: ' .. err_message(err or 'no status'), vim.log.levels.WARN)
      return
    end
    vim.notify(table.concat(M.status_lines(status), '\n'), vim.log.levels.INFO)
  end)
end

--- :InfillRestart: restart the engine, or the language server when it is not running.
function M.restart()
  local client = M.client()
  if client and not client:is_stopped() then
    M.execute(M.COMMANDS.restart, {}, function(err, result)
      if not err and type(result) ~= 'string' then -- the server says what it did (window/showMessage)
        vim.notify('infill: engine restarting', vim.log.levels.INFO)
      end
    end)
    return
  end
  vim.lsp.enable(M.NAME, false)
  vim.lsp.enable(M.NAME, true)
  vim.notify('infill: language server restarting', vim.log.levels.INFO)
end

return M

--- Next edits: after a change in Normal mode (and so on leaving Insert mode after typing) the server is asked
--- `textDocument/copilotInlineEdit` (debounced `nextEditDebounceMs`); its suggestion is drawn with extmarks (the
--- replaced text struck through, the new text inline after it, a sign and an end-of-line hint), and while one is
--- pending the Normal-mode keys of `keymaps.next_edit` (go to it, then apply it) and `keymaps.next_edit_dismiss`
--- are mapped in its buffer, only then. A change, leaving the buffer or a new version drops it; an answer counts
--- only while the buffer is at the version it was asked for.

local text = require('infill.text')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('infill.next_edit')
M.METHOD = 'textDocument/copilotInlineEdit'
M.DID_SHOW = 'textDocument/didShowInlineEdit'
M.ACCEPT = 'infill.nextEdit.accept'
M.DISMISS = 'infill.nextEdit.dismiss'
local REQUEST_CANCELLED = -32800

---@class infill.NextEdit
---@field item table the server's item, as it came
---@field version integer the buffer version it applies to
---@field row integer 0-based start row
---@field col integer byte column of the start
---@field end_row integer
---@field end_col integer
---@field text string the new text

---@class infill.NextEditState
---@field client_id integer
---@field timer uv.uv_timer_t
---@field augroup integer
---@field request? { id: integer, seq: integer }
---@field edit? infill.NextEdit
---@field saved_maps? table[] the buffer-local Normal-mode mappings our keys replaced while pending

---@type table<integer, infill.NextEditState>
local states = {}
local seq = 0
local options = {
  enabled = true,
  debounce_ms = 500,
  keys = { next_edit = '<Tab>', next_edit_dismiss = '<Esc>' },
}

--- `settings`: the server settings of setup() (`nextEdit`, `nextEditDebounceMs`, camelCase or snake_case);
--- `keys`: the Normal-mode keys of `keymaps` (`next_edit`, `next_edit_dismiss`; false: none).
---@param opts { settings?: table, keys?: table|false }
function M.configure(opts)
  local s = opts.settings or {}
  if type(s.infill) == 'table' then
    s = vim.tbl_extend('force', s, s.infill)
  end
  local enabled = s.nextEdit
  if enabled == nil then
    enabled = s.next_edit
  end
  options.enabled = enabled ~= false
  local debounce = s.nextEditDebounceMs or s.next_edit_debounce_ms
  options.debounce_ms = type(debounce) == 'number' and debounce >= 0 and math.min(debounce, 10000) or 500
  if opts.keys == false then
    options.keys = {}
  elseif opts.keys then
    options.keys = { next_edit = opts.keys.next_edit, next_edit_dismiss = opts.keys.next_edit_dismiss }
  end
  if not options.enabled then
    for buf in pairs(states) do
      M.clear(buf)
    end
  end
end

local function resolve(buf)
  return (buf == nil or buf == 0) and api.nvim_get_current_buf() or buf
end

local function client_of(st)
  return st and vim.lsp.get_client_by_id(st.client_id)
end

local function version_of(buf)
  local version = vim.lsp.util.buf_versions[buf]
  return type(version) == 'number' and version or api.nvim_buf_get_changedtick(buf)
end

local function keys_list(lhs)
  return type(lhs) == 'string' and { lhs } or type(lhs) == 'table' and lhs or {}
end

-- ---- keys while pending ------------------------------------------------------------------------

local ACTIONS ---@type table<string, fun(buf: integer): boolean>

local function map_keys(buf, st)
  if st.saved_maps then
    return
  end
  st.saved_maps = {}
  for name, lhss in pairs(options.keys) do
    for _, lhs in ipairs(keys_list(lhss)) do
      local prev = vim.fn.maparg(lhs, 'n', false, true)
      if type(prev) == 'table' and prev.buffer == 1 then
        table.insert(st.saved_maps, prev)
      end
      vim.keymap.set('n', lhs, function()
        ACTIONS[name](buf)
      end, { buffer = buf, silent = true, nowait = true, desc = 'infill: ' .. name:gsub('_', ' ') })
    end
  end
end

local function unmap_keys(buf, st)
  local saved = st.saved_maps
  st.saved_maps = nil
  if not saved or not api.nvim_buf_is_valid(buf) then
    return
  end
  for _, lhss in pairs(options.keys) do
    for _, lhs in ipairs(keys_list(lhss)) do
      pcall(vim.keymap.del, 'n', lhs, { buffer = buf })
    end
  end
  for _, map in ipairs(saved) do -- the buffer's own mappings of these keys, back as they were
    api.nvim_buf_call(buf, function()
      vim.fn.mapset('n', false, map)
    end)
  end
end

-- ---- drawing ----------------------------------------------------------------------------------

local function in_edit(edit, row, col)
  local after_start = row > edit.row or (row == edit.row and col >= edit.col)
  local before_end = row < edit.end_row or (row == edit.end_row and col <= edit.end_col)
  return after_start and before_end
end

--- What the key does now: 'jump' to the edit, or 'apply' it when the cursor is in it.
---@param buf? integer
---@return 'jump'|'apply'|nil
function M.action(buf)
  buf = resolve(buf)
  local st = states[buf]
  local edit = st and st.edit
  if not edit or api.nvim_get_current_buf() ~= buf then
    return nil
  end
  local pos = api.nvim_win_get_cursor(0)
  return in_edit(edit, pos[1] - 1, pos[2]) and 'apply' or 'jump'
end

local function hint(buf)
  local key = keys_list(options.keys.next_edit)[1]
  local what = M.action(buf) == 'apply' and 'apply' or 'go to'
  return key and (' %s: %s the next edit'):format(key, what) or ' next edit'
end

local function render(buf)
  api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local st = states[buf]
  local edit = st and st.edit
  if not edit then
    return
  end
  if edit.row ~= edit.end_row or edit.col ~= edit.end_col then
    api.nvim_buf_set_extmark(buf, M.ns, edit.row, edit.col, {
      end_row = edit.end_row,
      end_col = edit.end_col,
      hl_group = 'InfillNextEditDelete',
      hl_mode = 'combine',
    })
  end
  local lines = vim.split(edit.text, '\n', { plain = true })
  local tabstop = vim.bo[buf].tabstop
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { text.expand_tabs(lines[i], tabstop), 'InfillNextEditAdd' } }
  end
  api.nvim_buf_set_extmark(buf, M.ns, edit.end_row, edit.end_col, {
    virt_text = lines[1] ~= '' and { { text.expand_tabs(lines[1], tabstop, edit.end_col), 'InfillNextEditAdd' } } or nil,
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
    right_gravity = false,
  })
  api.nvim_buf_set_extmark(buf, M.ns, edit.row, 0, {
    sign_text = '»',
    sign_hl_group = 'InfillNextEditSign',
    virt_text = { { hint(buf), 'InfillHint' } },
    virt_text_pos = 'eol',
  })
end

-- ---- asking -----------------------------------------------------------------------------------

local function cancel(st)
  if st.timer then
    st.timer:stop()
  end
  local request = st.request
  st.request = nil
  local client = client_of(st)
  if request and client then
    client:cancel_request(request.id)
  end
end

--- Hide the suggestion of `buf` (if any), cancel what was asked, give the keys back. No message to the server.
---@param buf? integer
function M.clear(buf)
  buf = resolve(buf)
  local st = states[buf]
  if not st then
    return
  end
  cancel(st)
  st.edit = nil
  unmap_keys(buf, st)
  if api.nvim_buf_is_valid(buf) then
    api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  end
end

--- The server's item as a suggestion for `buf` at `version`; nil when malformed or about another version.
local function read_item(buf, version, uri, encoding, result)
  local item = type(result) == 'table' and type(result.edits) == 'table' and result.edits[1] or nil
  if type(item) ~= 'table' or type(item.text) ~= 'string' or type(item.range) ~= 'table' then
    return nil
  end
  local document = item.textDocument
  if type(document) == 'table' and (document.uri ~= nil and document.uri ~= uri
      or document.version ~= nil and document.version ~= version) then
    return nil
  end
  local s, e = item.range.start, item.range['end']
  local function valid(p)
    return type(p) == 'table' and type(p.line) == 'number' and type(p.character) == 'number' and p.line >= 0
      and p.character >= 0 and p.line < api.nvim_buf_line_count(buf)
  end
  if not valid(s) or not valid(e) or e.line < s.line or (e.line == s.line and e.character < s.character) then
    return nil
  end
  local lines = api.nvim_buf_get_lines(buf, s.line, e.line + 1, true)
  local col = text.byte_col(lines[1], s.character, encoding)
  local end_col = text.byte_col(lines[#lines], e.character, encoding)
  if e.character > 0 and text.lsp_character(lines[#lines], end_col, encoding) ~= e.character then
    return nil -- past the end of its line: not the text the server saw
  end
  local new_text = item.text:gsub('\r\n', '\n')
  return { item = item, version = version, row = s.line, col = col, end_row = e.line, end_col = end_col, text = new_text }
end

--- Ask now about the cursor of the current window, which must show `buf`.
---@param buf integer
function M.request(buf)
  local st = states[buf]
  local client = client_of(st)
  if not st or not client or not options.enabled or api.nvim_get_current_buf() ~= buf then
    return
  end
  M.clear(buf)
  seq = seq + 1
  local my_seq = seq
  local version = version_of(buf)
  local uri = vim.uri_from_bufnr(buf)
  local params = {
    textDocument = { uri = uri, version = version },
    position = vim.lsp.util.make_position_params(0, client.offset_encoding).position,
  }
  local ok, id = client:request(M.METHOD, params, function(err, result)
    if not st.request or st.request.seq ~= my_seq then
      return -- cancelled or superseded
    end
    st.request = nil
    if err then
      if err.code ~= REQUEST_CANCELLED then
        vim.notify_once(('infill: next edit failed: %s'):format(err.message), vim.log.levels.DEBUG)
      end
      return
    end
    if states[buf] ~= st or not api.nvim_buf_is_valid(buf) or version_of(buf) ~= version then
      return -- the text moved on
    end
    local edit = read_item(buf, version, uri, client.offset_encoding, result)
    if not edit or api.nvim_get_current_buf() ~= buf then
      return
    end
    st.edit = edit
    map_keys(buf, st)
    render(buf)
    if type(edit.item.command) == 'table' then
      client:notify(M.DID_SHOW, { item = edit.item })
    end
  end, buf)
  if ok and id then
    st.request = { id = id, seq = my_seq }
  end
end

local function schedule(buf)
  local st = states[buf]
  if not st then
    return
  end
  M.clear(buf)
  if not options.enabled then
    return
  end
  st.timer:start(options.debounce_ms, 0, vim.schedule_wrap(function()
    if states[buf] == st and api.nvim_buf_is_valid(buf) and api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then
      M.request(buf)
    end
  end))
end

-- ---- actions ----------------------------------------------------------------------------------

local function run_command(st, buf, command_name, edit)
  local client = client_of(st)
  local command = edit.item.command
  if not client or type(command) ~= 'table' then
    return
  end
  client:exec_cmd({ title = command.title or '', command = command_name, arguments = command.arguments }, { bufnr = buf })
end

--- Go to the pending suggestion of `buf`, or apply it when the cursor is already in it. False when none.
---@param buf? integer
---@return boolean
function M.jump_or_apply(buf)
  buf = resolve(buf)
  local st = states[buf]
  local action = M.action(buf)
  if not action then
    return false
  end
  local edit = assert(st.edit)
  if version_of(buf) ~= edit.version then
    M.clear(buf)
    return false
  end
  if action == 'jump' then
    vim.cmd("normal! m'") -- `` and <C-o> come back
    api.nvim_win_set_cursor(0, { edit.row + 1, edit.col })
    render(buf)
    return true
  end
  M.clear(buf)
  local client = client_of(st)
  local encoding = client and client.offset_encoding or 'utf-16'
  vim.lsp.util.apply_text_edits({ { range = edit.item.range, newText = edit.item.text } }, buf, encoding)
  local end_row, end_col = text.end_position(edit.row, edit.col, edit.text)
  pcall(api.nvim_win_set_cursor, 0, { end_row + 1, math.max(end_col - 1, 0) })
  run_command(st, buf, M.ACCEPT, edit)
  return true
end

--- Hide the pending suggestion of `buf` and tell the server it was turned down. False when none.
---@param buf? integer
---@return boolean
function M.dismiss(buf)
  buf = resolve(buf)
  local st = states[buf]
  local edit = st and st.edit
  if not edit then
    return false
  end
  M.clear(buf)
  run_command(st, buf, M.DISMISS, edit)
  return true
end

--- The pending suggestion of `buf`: { text, range (LSP), row, col, end_row, end_col }, or nil.
---@param buf? integer
function M.current(buf)
  buf = resolve(buf)
  local edit = states[buf] and states[buf].edit
  if not edit then
    return nil
  end
  return { text = edit.text, range = edit.item.range, row = edit.row, col = edit.col, end_row = edit.end_row,
           end_col = edit.end_col }
end

ACTIONS = { next_edit = M.jump_or_apply, next_edit_dismiss = M.dismiss }

-- ---- attaching --------------------------------------------------------------------------------

---@param buf integer
---@param client_id integer
function M.attach(buf, client_id)
  if states[buf] then
    states[buf].client_id = client_id
    return
  end
  local group = api.nvim_create_augroup(('infill.next_edit.%d'):format(buf), { clear = true })
  local st = { client_id = client_id, timer = assert(vim.uv.new_timer()), augroup = group }
  states[buf] = st
  api.nvim_create_autocmd('TextChanged', { -- in Normal mode, and once on leaving Insert mode after typing
    group = group,
    buffer = buf,
    callback = function()
      schedule(buf)
    end,
  })
  api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP', 'BufLeave' }, {
    group = group,
    buffer = buf,
    callback = function()
      M.clear(buf) -- typing in Insert mode: asked again on leaving it
    end,
  })
  api.nvim_create_autocmd('CursorMoved', {
    group = group,
    buffer = buf,
    callback = function()
      if st.edit then
        render(buf) -- the hint says what the key does from here
      end
    end,
  })
  api.nvim_create_autocmd({ 'BufUnload', 'BufWipeout' }, {
    group = group,
    buffer = buf,
    callback = function()
      M.detach(buf)
    end,
  })
end

---@param buf integer
function M.detach(buf)
  local st = states[buf]
  if not st then
    return
  end
  M.clear(buf)
  st.timer:close()
  pcall(api.nvim_del_augroup_by_id, st.augroup)
  states[buf] = nil
end

---@param buf? integer
---@return boolean
function M.attached(buf)
  return states[resolve(buf)] ~= nil
end

return M

--- Ghost text on Neovim 0.11: asks for inline completions as you type and draws them with extmarks.
---
--- One state per attached buffer. A request is sent `debounce_ms` after the last TextChangedI or
--- CursorMovedI, the one before it cancelled; an answer counts only while the buffer, its
--- changedtick and the cursor are what they were when it was asked. Typing the ghost's next
--- characters keeps it (shortened) instead of asking again.

local text = require('infill.text')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('infill')
M.INVOKED = 1 -- lsp.InlineCompletionTriggerKind
M.AUTOMATIC = 2
local REQUEST_CANCELLED = -32800

---@class infill.GhostState
---@field client_id integer
---@field row? integer 1-based row of the cursor the items apply to
---@field col? integer byte column of that cursor
---@field tick? integer changedtick the items apply to
---@field items? infill.Suggestion[] nil when nothing is shown
---@field index? integer
---@field invoked? boolean the items came from an invoked request (several candidates)
---@field request? { id: integer, seq: integer }
---@field timer? uv.uv_timer_t
---@field augroup integer

---@type table<integer, infill.GhostState>
local states = {}
local seq = 0
local options = { debounce_ms = 75 }

---@param opts { debounce_ms?: integer }
function M.configure(opts)
  options = vim.tbl_extend('force', options, opts or {})
end

--- A buffer number with 0 meaning the current buffer.
local function resolve(buf)
  return (buf == nil or buf == 0) and api.nvim_get_current_buf() or buf
end

local function line_at(buf, row)
  return api.nvim_buf_get_lines(buf, row - 1, row, false)[1] or ''
end

local function client_of(st)
  return st and vim.lsp.get_client_by_id(st.client_id)
end

local function notify(st, method, params)
  local client = client_of(st)
  if client then
    client:notify(method, params)
  end
end

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

local function render(buf)
  api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local st = states[buf]
  if not st or not st.items then
    return
  end
  local item = st.items[st.index]
  local first, rest = text.display(item.ghost, item.replace)
  local tabstop = vim.bo[buf].tabstop
  local hint = #st.items > 1 and (' (%d/%d)'):format(st.index, #st.items) or nil
  local virt_text = { { text.expand_tabs(first, tabstop, st.col), 'InfillGhost' } }
  local virt_lines = {}
  for _, l in ipairs(rest) do
    virt_lines[#virt_lines + 1] = { { text.expand_tabs(l, tabstop), 'InfillGhost' } }
  end
  if hint then
    table.insert(#virt_lines > 0 and virt_lines[#virt_lines] or virt_text, { hint, 'InfillHint' })
  end
  api.nvim_buf_set_extmark(buf, M.ns, st.row - 1, st.col, {
    virt_text = virt_text,
    virt_text_pos = 'inline',
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = 'combine',
    right_gravity = false,
  })
end

local function hide(buf)
  local st = states[buf]
  if st then
    st.items, st.index, st.invoked = nil, nil, nil
  end
  if api.nvim_buf_is_valid(buf) then
    api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  end
end

--- The candidates of an answer, as suggestions for the cursor at (row, col) of `buf`.
local function suggestions(buf, row, col, encoding, result)
  local line = line_at(buf, row)
  local out, seen = {}, {}
  for _, item in ipairs(result and (result.items or result) or {}) do
    local insert = item.insertText
    if type(insert) == 'table' then
      insert = nil -- snippets are not drawn as ghost text
    end
    local start_col, end_col = col, col
    if insert and item.range then
      local s, e = item.range.start, item.range['end']
      if s.line ~= row - 1 or e.line ~= row - 1 then
        insert = nil
      else
        start_col = text.byte_col(line, s.character, encoding)
        end_col = text.byte_col(line, e.character, encoding)
      end
    end
    local suggestion = insert and text.suggestion(line, col, start_col, end_col, insert)
    if suggestion and not seen[suggestion.ghost] then
      seen[suggestion.ghost] = true
      suggestion.command = item.command
      out[#out + 1] = suggestion
    end
  end
  return out
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1], pos[2]
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- Ask now for the cursor of the current window, which must show `buf`.
---@param buf integer
---@param kind integer trigger kind
---@param after_ghost? string when cycling: show the first candidate that differs from this one
function M.request(buf, kind, after_ghost)
  local st = states[buf]
  local client = client_of(st)
  if not client or api.nvim_get_current_buf() ~= buf or not in_insert_mode() then
    return
  end
  cancel(st)
  seq = seq + 1
  local my_seq = seq
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(buf)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = kind }
  local ok, id = client:request('textDocument/inlineCompletion', params, function(err, result)
    if not st.request or st.request.seq ~= my_seq then
      return -- cancelled or superseded
    end
    st.request = nil
    if err then
      if err.code ~= REQUEST_CANCELLED then
        vim.notify_once(('infill: inline completion failed: %s'):format(err.message), vim.log.levels.WARN)
      end
      return
    end
    if states[buf] ~= st or not api.nvim_buf_is_valid(buf) or api.nvim_get_current_buf() ~= buf then
      return
    end
    local now_row, now_col = cursor()
    if not in_insert_mode() or now_row ~= row or now_col ~= col or api.nvim_buf_get_changedtick(buf) ~= tick then
      return -- the text moved on; a newer request is on its way
    end
    local items = suggestions(buf, row, col, client.offset_encoding, result)
    if #items == 0 then
      if kind == M.AUTOMATIC then
        hide(buf)
      end
      return
    end
    local index = 1
    if after_ghost and #items > 1 and items[1].ghost == after_ghost then
      index = 2
    end
    st.items, st.index, st.invoked = items, index, kind == M.INVOKED
    st.row, st.col, st.tick = row, col, tick
    render(buf)
  end, buf)
  if ok and id then
    st.request = { id = id, seq = my_seq }
  end
end

local function schedule(buf, kind)
  local st = states[buf]
  if not st then
    return
  end
  cancel(st)
  st.timer = st.timer or vim.uv.new_timer()
  st.timer:start(
    options.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if states[buf] == st then
        M.request(buf, kind)
      end
    end)
  )
end

--- TextChangedI / CursorMovedI: keep the ghost if the user typed its next characters, else ask again.
local function on_change(buf)
  local st = states[buf]
  if not st or api.nvim_get_current_buf() ~= buf then
    return
  end
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(buf)
  if st.items then
    if st.row == row and st.col == col and st.tick == tick then
      return -- our own edit or a repeated event
    end
    if st.row == row and col > st.col and st.tick ~= tick then
      local line = line_at(buf, row)
      local typed = line:sub(st.col + 1, col)
      local kept, index = {}, 1
      for i, item in ipairs(st.items) do
        local next_item = text.advance(item, typed)
        if next_item and line:sub(col + 1, col + #next_item.replace) == next_item.replace then
          next_item.command = item.command
          kept[#kept + 1] = next_item
          if i == st.index then
            index = #kept
          end
        end
      end
      if #kept > 0 then
        cancel(st)
        st.items, st.index, st.row, st.col, st.tick = kept, index, row, col, tick
        render(buf)
        return
      end
    end
    hide(buf)
  end
  schedule(buf, M.AUTOMATIC)
end

---@param buf integer
---@param client_id integer
function M.attach(buf, client_id)
  if states[buf] then
    states[buf].client_id = client_id
    return
  end
  local group = api.nvim_create_augroup(('infill.ghost.%d'):format(buf), { clear = true })
  states[buf] = { client_id = client_id, augroup = group }
  api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = buf,
    callback = function()
      on_change(buf)
    end,
  })
  api.nvim_create_autocmd('InsertLeave', {
    group = group,
    buffer = buf,
    callback = function()
      M.dismiss(buf)
      local st = states[buf]
      if st then
        cancel(st)
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
  cancel(st)
  if st.timer then
    st.timer:close()
    st.timer = nil
  end
  hide(buf)
  pcall(api.nvim_del_augroup_by_id, st.augroup)
  states[buf] = nil
end

---@param buf integer
---@return boolean
function M.visible(buf)
  buf = resolve(buf)
  local st = states[buf]
  return st ~= nil and st.items ~= nil
end

--- The suggestion shown in `buf`, if any.
---@param buf integer
---@return infill.Suggestion?
function M.current(buf)
  buf = resolve(buf)
  local st = states[buf]
  return st and st.items and st.items[st.index] or nil
end

--- Accept all of the shown suggestion, or its next word or line. False when none is shown.
---@param buf integer
---@param how 'all'|'word'|'line'
---@return boolean
function M.accept(buf, how)
  buf = resolve(buf)
  local st = states[buf]
  if not st or not st.items or api.nvim_get_current_buf() ~= buf then
    return false
  end
  local item = st.items[st.index]
  local part = how == 'word' and text.next_word(item.ghost)
    or how == 'line' and text.next_line(item.ghost)
    or item.ghost
  local full = part == item.ghost
  local line = line_at(buf, st.row)
  local replaced = 0
  if full and line:sub(st.col + 1, st.col + #item.replace) == item.replace then
    replaced = #item.replace
  end
  cancel(st)
  api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local row0 = st.row - 1
  api.nvim_buf_set_text(buf, row0, st.col, row0, st.col + replaced, vim.split(part, '\n', { plain = true }))
  local end_row, end_col = text.end_position(row0, st.col, part)
  api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  local uri = vim.uri_from_bufnr(buf)
  if full then
    hide(buf)
    notify(st, 'infill/accepted', { uri = uri, text = item.text, partial = false })
    local client = client_of(st)
    if item.command and client then
      client:exec_cmd(item.command, { bufnr = buf })
    end
  else
    local rest = { ghost = item.ghost:sub(#part + 1), replace = item.replace, text = item.text, command = item.command }
    st.items, st.index = { rest }, 1
    st.row, st.col, st.tick = end_row + 1, end_col, api.nvim_buf_get_changedtick(buf)
    render(buf)
    notify(st, 'infill/accepted', { uri = uri, text = part, partial = true })
  end
  return true
end

--- Hide the shown suggestion and tell the server. False when none is shown.
---@param buf integer
---@return boolean
function M.dismiss(buf)
  buf = resolve(buf)
  local st = states[buf]
  if not st or not st.items then
    return false
  end
  cancel(st)
  hide(buf)
  notify(st, 'infill/dismissed', { uri = vim.uri_from_bufnr(buf) })
  return true
end

--- Show the next (`delta` 1) or previous (-1) candidate. With only the one candidate of an
--- automatic request, ask again with trigger kind Invoked, which returns several. With nothing
--- shown, ask for a suggestion now.
---@param buf integer
---@param delta integer
---@return boolean
function M.cycle(buf, delta)
  buf = resolve(buf)
  local st = states[buf]
  if not st then
    return false
  end
  if st.items and #st.items > 1 then
    st.index = (st.index - 1 + delta) % #st.items + 1
    render(buf)
  elseif st.items and not st.invoked then
    M.request(buf, M.INVOKED, st.items[st.index].ghost)
  else
    M.request(buf, M.INVOKED)
  end
  return true
end

--- Ask for a suggestion now (trigger kind Invoked).
---@param buf integer
---@return boolean
function M.suggest(buf)
  buf = resolve(buf)
  if not states[buf] then
    return false
  end
  M.request(buf, M.INVOKED)
  return true
end

---@param buf integer
---@return boolean
function M.attached(buf)
  buf = resolve(buf)
  return states[buf] ~= nil
end

return M

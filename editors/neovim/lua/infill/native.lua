--- Ghost text on Neovim 0.12+: the built-in `vim.lsp.inline_completion`, with infill's accept
--- notifications and partial accepts added on top. Same interface as `infill.ghost`.

local text = require('infill.text')

local api = vim.api
local M = {}

local NS_NAME = 'nvim.lsp.inline_completion'

--- Whether this Neovim has the built-in inline completion this module drives.
---@return boolean
function M.available()
  local ic = vim.lsp.inline_completion
  return type(ic) == 'table'
    and type(ic.enable) == 'function'
    and type(ic.get) == 'function'
    and type(ic.select) == 'function'
end

local clients = {} ---@type table<integer, integer> buffer -> infill client id

function M.attach(buf, client_id)
  clients[buf] = client_id
  vim.lsp.inline_completion.enable(true, { bufnr = buf })
end

function M.detach(buf)
  clients[buf] = nil
  pcall(vim.lsp.inline_completion.enable, false, { bufnr = buf })
end

function M.attached(buf)
  return clients[buf] ~= nil
end

function M.visible(buf)
  local ns = api.nvim_get_namespaces()[NS_NAME]
  return ns ~= nil and #api.nvim_buf_get_extmarks(buf, ns, 0, -1, { limit = 1 }) > 0
end

function M.current()
  return nil -- the built-in keeps its current item to itself
end

local function notify(buf, client_id, method, params)
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  if client and client.name == 'infill' and clients[buf] == client_id then
    client:notify(method, params)
  end
end

--- Apply all of `item`, or its next word or line, the way `get()`'s default handler would.
local function apply(buf, item, how)
  local insert = item.insert_text
  local win = api.nvim_get_current_win()
  if type(insert) ~= 'string' then -- a snippet: no partial accepts
    vim.snippet.expand(insert.value)
    notify(buf, item.client_id, 'infill/accepted', { uri = vim.uri_from_bufnr(buf), text = insert.value, partial = false })
    return
  end
  local pos = api.nvim_win_get_cursor(win)
  local row, col = pos[1] - 1, pos[2]
  local srow, scol, erow, ecol = row, col, row, col
  if item.range then
    local s, e = item.range.start, item.range.end_ or item.range['end']
    srow, scol, erow, ecol = s.row, s.col, e.row, e.col
  end
  local part
  if how ~= 'all' and srow == row and erow == row then
    local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
    local suggestion = text.suggestion(line, col, scol, ecol, insert)
    if suggestion then
      part = how == 'word' and text.next_word(suggestion.ghost) or text.next_line(suggestion.ghost)
      if part == suggestion.ghost then
        part = nil -- that is all of it
      end
    end
  end
  local uri = vim.uri_from_bufnr(buf)
  if part then
    api.nvim_buf_set_text(buf, row, col, row, col, vim.split(part, '\n', { plain = true }))
    local r, c = text.end_position(row, col, part)
    api.nvim_win_set_cursor(win, { r + 1, c })
    notify(buf, item.client_id, 'infill/accepted', { uri = uri, text = part, partial = true })
    return
  end
  api.nvim_buf_set_text(buf, srow, scol, erow, ecol, vim.split(insert, '\n', { plain = true }))
  local r, c = text.end_position(srow, scol, insert)
  api.nvim_win_set_cursor(win, { r + 1, c })
  notify(buf, item.client_id, 'infill/accepted', { uri = uri, text = insert, partial = false })
  local client = vim.lsp.get_client_by_id(item.client_id)
  if item.command and client then
    client:exec_cmd(item.command, { bufnr = buf })
  end
end

function M.accept(buf, how)
  return vim.lsp.inline_completion.get({
    bufnr = buf,
    on_accept = function(item)
      apply(buf, item, how)
    end,
  }) == true
end

function M.dismiss(buf)
  if not M.visible(buf) then
    return false
  end
  -- the built-in has no dismiss: turning it off and on again drops the shown item
  vim.lsp.inline_completion.enable(false, { bufnr = buf })
  vim.lsp.inline_completion.enable(true, { bufnr = buf })
  notify(buf, clients[buf], 'infill/dismissed', { uri = vim.uri_from_bufnr(buf) })
  return true
end

function M.cycle(buf, delta)
  if not M.visible(buf) then
    return false
  end
  vim.lsp.inline_completion.select({ bufnr = buf, count = delta })
  return true
end

function M.suggest()
  return false -- the built-in asks on its own as you type
end

return M

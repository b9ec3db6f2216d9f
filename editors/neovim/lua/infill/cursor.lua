--- Tells the server where the cursor rests (`infill/didMoveCursor`, editors/README.md), so it can encode
--- that place before a fill is asked there. One debounced report per buffer after CursorMoved/CursorMovedI.

local api = vim.api
local M = {}

M.METHOD = 'infill/didMoveCursor'
M.debounce_ms = 100

---@type table<integer, { client_id: integer, timer: uv.uv_timer_t, augroup: integer }>
local states = {}

--- The notification's params for the cursor of the current window, in `encoding`.
---@param buf integer
---@param encoding string
function M.params(buf, encoding)
  local position = vim.lsp.util.make_position_params(0, encoding).position
  local document = { uri = vim.uri_from_bufnr(buf) }
  local version = vim.lsp.util.buf_versions[buf]
  if type(version) == 'number' then
    document.version = version
  end
  return { textDocument = document, position = position }
end

local function report(buf)
  local st = states[buf]
  local client = st and vim.lsp.get_client_by_id(st.client_id)
  if not client or api.nvim_get_current_buf() ~= buf then
    return
  end
  client:notify(M.METHOD, M.params(buf, client.offset_encoding))
end

---@param buf integer
---@param client_id integer
function M.attach(buf, client_id)
  if states[buf] then
    states[buf].client_id = client_id
    return
  end
  local group = api.nvim_create_augroup(('infill.cursor.%d'):format(buf), { clear = true })
  local st = { client_id = client_id, timer = assert(vim.uv.new_timer()), augroup = group }
  states[buf] = st
  api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI' }, {
    group = group,
    buffer = buf,
    callback = function()
      st.timer:stop()
      st.timer:start(M.debounce_ms, 0, vim.schedule_wrap(function()
        report(buf)
      end))
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
  st.timer:stop()
  st.timer:close()
  pcall(api.nvim_del_augroup_by_id, st.augroup)
  states[buf] = nil
end

return M

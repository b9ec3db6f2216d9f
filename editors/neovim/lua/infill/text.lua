--- Pure text helpers: LSP positions to byte columns, suggestions relative to the cursor, partial accepts.
---
--- No buffers, windows or clients in here: strings and numbers in, strings and numbers out.

local M = {}

--- The byte column (0-based) of an LSP `character` on `line`, in the negotiated `encoding`.
--- Out-of-range characters clamp to the end of the line.
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if character <= 0 then
    return 0
  end
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  if not ok or type(col) ~= 'number' then
    return #line
  end
  return math.min(col, #line)
end

--- The LSP `character` of byte column `col` (0-based) on `line`, in `encoding`.
---@param line string
---@param col integer
---@param encoding string
---@return integer
function M.lsp_character(line, col, encoding)
  col = math.max(0, math.min(col, #line))
  if encoding == 'utf-8' then
    return col
  end
  local ok, index = pcall(vim.str_utfindex, line, encoding, col, false)
  if not ok or type(index) ~= 'number' then
    return col
  end
  return index
end

--- A suggestion relative to the cursor: `ghost` is inserted at the cursor and replaces the
--- `replace` text that follows it (closing brackets the fill types again).
---@class infill.Suggestion
---@field ghost string
---@field replace string
---@field text string the item's full insert text, as the server sent it

--- The suggestion for an item replacing byte columns [start_col, end_col) of the cursor's line
--- with `text`, or nil (and why) when the item does not fit the line as it is now.
---@param line string the cursor's line
---@param cursor_col integer byte column of the cursor (0-based)
---@param start_col integer
---@param end_col integer
---@param text string
---@return infill.Suggestion?, string?
function M.suggestion(line, cursor_col, start_col, end_col, text)
  if start_col > cursor_col or end_col < cursor_col then
    return nil, 'the item range does not contain the cursor'
  end
  local typed = line:sub(start_col + 1, cursor_col)
  if text:sub(1, #typed) ~= typed then
    return nil, 'the item does not start with the text typed before the cursor'
  end
  local ghost = text:sub(#typed + 1)
  local replace = line:sub(cursor_col + 1, end_col)
  if ghost == '' or ghost == replace then
    return nil, 'the item adds nothing'
  end
  return { ghost = ghost, replace = replace, text = text }
end

--- What to draw for a suggestion: the first line goes after the cursor, the others below it.
--- A one-line ghost that ends with the text it replaces is drawn without that tail, since the
--- buffer still shows it right after the cursor.
---@param ghost string
---@param replace string
---@return string first, string[] rest
function M.display(ghost, replace)
  local lines = vim.split(ghost, '\n', { plain = true })
  local first = lines[1]
  if #lines == 1 and replace ~= '' and first:sub(-#replace) == replace then
    first = first:sub(1, #first - #replace)
  end
  return first, { unpack(lines, 2) }
end

--- Tabs drawn as spaces (virtual text has no tab stops of its own).
---@param s string
---@param tabstop integer
---@param start_col? integer screen column where `s` starts (0-based)
---@return string
function M.expand_tabs(s, tabstop, start_col)
  if not s:find('\t', 1, true) then
    return s
  end
  local out, col = {}, start_col or 0
  for ch in s:gmatch('[^\128-\191][\128-\191]*') do
    if ch == '\t' then
      local width = tabstop - (col % tabstop)
      out[#out + 1] = string.rep(' ', width)
      col = col + width
    else
      out[#out + 1] = ch
      col = col + 1
    end
  end
  return table.concat(out)
end

--- The next word of a ghost: leading blanks and then a run of word characters or of other
--- non-blank characters; a newline and the next line's indentation when the ghost starts a line.
---@param ghost string
---@return string
function M.next_word(ghost)
  if ghost:sub(1, 1) == '\n' then
    return '\n' .. (ghost:match('^\n([ \t]*)') or '')
  end
  return ghost:match('^[ \t]*[%w_]+')
    or ghost:match('^[ \t]*[^%w_%s]+')
    or ghost:match('^[ \t]+')
    or ghost:sub(1, 1)
end

--- The next line of a ghost: the rest of the current line, or a newline and the next line.
---@param ghost string
---@return string
function M.next_line(ghost)
  local first = ghost:match('^[^\n]*')
  if first ~= '' then
    return first
  end
  return ghost:match('^\n[^\n]*') or ghost
end

--- Where the cursor ends after inserting `inserted` at (row, col): 0-based row, byte col.
---@param row integer
---@param col integer
---@param inserted string
---@return integer, integer
function M.end_position(row, col, inserted)
  local lines = vim.split(inserted, '\n', { plain = true })
  if #lines == 1 then
    return row, col + #lines[1]
  end
  return row + #lines - 1, #lines[#lines]
end

--- The suggestion after the user typed `typed` at its start; nil when `typed` does not match it
--- or uses it up.
---@param suggestion infill.Suggestion
---@param typed string
---@return infill.Suggestion?
function M.advance(suggestion, typed)
  local ghost = suggestion.ghost
  if typed == '' or ghost:sub(1, #typed) ~= typed then
    return nil
  end
  local rest = ghost:sub(#typed + 1)
  if rest == '' or rest == suggestion.replace then
    return nil
  end
  return { ghost = rest, replace = suggestion.replace, text = suggestion.text }
end

return M

-- infill user commands. They work once require('infill').setup() started the language server.
if vim.g.loaded_infill then
  return
end
vim.g.loaded_infill = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify_once('infill needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

local command = vim.api.nvim_create_user_command

command('InfillFillSelection', function(opts)
  require('infill').fill_selection(opts)
end, { range = true, nargs = '*', desc = 'infill: fill the selected code, following an optional instruction' })

command('InfillCompleteBody', function()
  require('infill').complete_body()
end, { desc = 'infill: complete the body of the function at the cursor' })

command('InfillDocstring', function()
  require('infill').docstring()
end, { desc = 'infill: write the docstring of the function at the cursor' })

command('InfillStatus', function()
  require('infill').show_status()
end, { desc = 'infill: show the engine state, model and latency' })

command('InfillRestart', function()
  require('infill').restart()
end, { desc = 'infill: restart the engine (or the language server when it is not running)' })

command('InfillNextEdit', function()
  if not require('infill').next_edit() then
    vim.notify('infill: no next edit is pending', vim.log.levels.INFO)
  end
end, { desc = 'infill: go to the pending next edit, or apply it when the cursor is in it' })

command('InfillNextEditDismiss', function()
  require('infill').next_edit_dismiss()
end, { desc = 'infill: dismiss the pending next edit (it is not offered again)' })

-- Minimal init for tests/test_neovim_e2e.py: the plugin from editors/neovim, set up with the
-- options the test passes as JSON in $INFILL_NVIM_TEST ({ plugin_dir, setup, position_encodings?, insert_maps? }).
-- Every vim.notify (the plugin's, and the server's window/showMessage) is kept in _G.infill_test_notified.
local config = vim.json.decode((assert(os.getenv('INFILL_NVIM_TEST'), 'INFILL_NVIM_TEST is not set')))
vim.opt.runtimepath:prepend(config.plugin_dir)
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.more = false
for lhs, rhs in pairs(config.insert_maps or {}) do -- mappings a user had before infill
  vim.keymap.set('i', lhs, rhs)
end
_G.infill_test_notified = {}
local notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(_G.infill_test_notified, { message = message, level = level or vim.log.levels.INFO })
  return notify(message, level, opts)
end
require('infill').setup(config.setup)
if config.position_encodings then -- offer only these (neovim offers utf-8 first by default)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.general.positionEncodings = config.position_encodings
  vim.lsp.config('infill', { capabilities = capabilities })
end

-- Every notification the infill client sends, for the test to inspect.
_G.infill_test_sent = {}
vim.api.nvim_create_autocmd('LspAttach', {
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'infill' or client._infill_test_wrapped then
      return
    end
    client._infill_test_wrapped = true
    local notify, request = client.notify, client.request
    client.notify = function(self, method, params)
      table.insert(_G.infill_test_sent, { method = method, params = params })
      return notify(self, method, params)
    end
    client.request = function(self, method, params, ...)
      if method == 'textDocument/inlineCompletion' or method == 'workspace/executeCommand'
          or method == 'textDocument/copilotInlineEdit' then
        table.insert(_G.infill_test_sent, { method = method, params = params })
      end
      return request(self, method, params, ...)
    end
  end,
})

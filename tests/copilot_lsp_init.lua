-- A Neovim set up with copilot-lsp (../shared/clients/copilot-lsp, unchanged) talking to `infill serve` instead
-- of GitHub's server: the test hands in the plugin's folder, the server command and its initializationOptions
-- through INFILL_COPILOT_TEST (JSON).
local config = vim.json.decode(os.getenv("INFILL_COPILOT_TEST"))
vim.opt.rtp:append(config.plugin_dir)
vim.g.copilot_nes_debounce = config.debounce_ms
vim.lsp.config("copilot_ls", {
  cmd = config.cmd,
  init_options = config.init_options,
  root_dir = config.root_dir,
})
vim.lsp.enable("copilot_ls")

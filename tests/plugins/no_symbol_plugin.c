/*
 * A shared library that exports no bb_plugin_describe: the loader must refuse it with the
 * symbol's name and dlerror()'s text. The one function is hidden, like everything a plugin
 * does not mean to export.
 */
int bb_no_symbol_plugin_unused(void);

int bb_no_symbol_plugin_unused(void) { return 0; }

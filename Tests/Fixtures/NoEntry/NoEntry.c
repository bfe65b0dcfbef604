/* A shared library that is not a Confide plugin: it exports no confide_plugin_entry. */
int confide_fixture_not_a_plugin(void) { return 42; }

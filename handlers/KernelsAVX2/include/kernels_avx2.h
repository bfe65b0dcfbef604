/* KernelsAVX2 exports only confide_plugin_entry (see confide.h). */

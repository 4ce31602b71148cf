"""The workbench app on top of the gcl_nb library: the `gcl-nb` command line (`cli`, `commands`), named presets
(`presets`), experiments and their reports (`experiment`), the notebooks runner and helpers (`notebooks`) and the
SynthShop-specific analysis (`synthshop_analysis`)."""

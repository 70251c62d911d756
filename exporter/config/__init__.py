"""The exporter's configuration: YAML loading with ${ENV} expansion, typed models
validated by pydantic, and errors that name the key path.

Import from the submodules (`exporter.config.loading`, `exporter.config.model`);
this package module stays empty so backends can use `exporter.config.types`
without importing the whole configuration (which imports the backends).
"""

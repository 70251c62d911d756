"""Configuration primitives at the bottom of the layers: YAML loading with ${ENV}
expansion (`loading`), typed values and the strict base model (`types`), and errors
that name the key path (`errors`). The whole configuration file's model is
assembled at the top, in `exporter.app.config`, from the models each layer owns."""

"""The pipeline: config, `create_pipeline`, runners, results and the `mtrec` CLI."""

"""The `mtrec` command line, one module per command group:

  run      mtrec run, mtrec compile kubeflow
  query    mtrec recommend, predict, similar-items, similar-users, export-embeddings
  serving  mtrec serve, mtrec rollback
  runs     mtrec runs, show, report, models
  config   mtrec init, mtrec config show
  flink    mtrec flink setup | start | stop | status
  bench    mtrec bench serving | quality | scale | overhead
  data     mtrec data download | prepare

`main.py` assembles them; `common.py` holds what several groups share;
`progress.py` is the live display of a running pipeline.
"""

from mtrec.pipeline.cli.common import EXIT_NOT_BLESSED, EXIT_USAGE
from mtrec.pipeline.cli.main import main

__all__ = ["EXIT_NOT_BLESSED", "EXIT_USAGE", "main"]

"""Long training runs: checkpoints, resuming, interrupts and run folders (see `seq2seq train`)."""

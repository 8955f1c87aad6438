"""simulate-history: the pipeline's history backfilled into the emulator's stores."""

"""The emulator's CodePipeline: executions that really run, connections and the local git source."""

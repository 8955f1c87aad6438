"""The emulator's CodeBuild: builds that really run the buildspec, with logs and reports."""

"""The operator's verbs over the AWS API, the same on both targets.

pipeline, builds, deployments, fleet, release, rollback, triage: each takes a session and
the stack's config, and talks to AWS (or the emulator) only through boto3.
"""

"""The emulator's own CloudWatch: Logs and metrics in an indexed store, alarms that evaluate.

Pure parts (filter patterns, Logs Insights, statistics, metric math, alarm evaluation) take
data and return data; the service answers the API over the store (see DESIGN.md).
"""

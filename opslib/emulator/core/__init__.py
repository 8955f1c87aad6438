"""The emulator's plumbing: gateway, durable store, runtime, process helpers, moto patches.

Also the emulator process's lifecycle as seen from outside (start, stop, status). Nothing
here imports a service package; every service package may import from here.
"""

"""The emulator's EC2 side: a local host per instance, its CloudWatch agent, the sampler."""

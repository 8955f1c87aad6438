"""The emulator's CodeDeploy: deployments that really run the appspec's hooks on the local hosts."""

"""AWS FIS: experiments with their effects (targets, actions, stop conditions)."""

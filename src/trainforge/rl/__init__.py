"""Reinforcement learning: environments, agents, their training loop, safe policy files."""

"""What several steps run on: the PyTorch loop, its losses and schedules, checkpoints, and the
events and callbacks a fit reports through. Algorithms, training and rl import it; it imports
none of them."""

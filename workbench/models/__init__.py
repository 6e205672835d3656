"""Video models behind one adapter: prompts in, velocities and videos out."""

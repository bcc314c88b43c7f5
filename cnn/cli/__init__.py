"""Layer 8, the command-line tools: cnn-train, cnn-evaluate and the model tables."""

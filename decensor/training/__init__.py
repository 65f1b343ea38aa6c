"""Training the fill network: data, training masks, losses, the training loop, evaluation."""

"""Layer 6, serving: untrusted images in, predictions and a look inside the model out."""

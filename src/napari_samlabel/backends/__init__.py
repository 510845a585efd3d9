"""Models: SAM 2 (image and video), seeds, tracking. torch is imported inside the backend
modules only, when a model is built; importing this package imports nothing heavy."""

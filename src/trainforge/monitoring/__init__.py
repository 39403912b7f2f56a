"""After deployment: the prediction log, feedback labels, drift and the retraining loop."""

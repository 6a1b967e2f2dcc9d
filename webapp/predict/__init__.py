"""What a trained model says about data: its predictions and gallery rows, the confusion matrix, the
inside view (every layer's output, Grad-CAM), thumbnails, a user's own image, the saved-model cache.

It reads a run's artifacts (`runs/paths.py`) and datasets; only `saved_models`, `inside` and
`saliency` import Keras, to run a saved model in the web process. No Flask: `web/api/` asks it.
"""

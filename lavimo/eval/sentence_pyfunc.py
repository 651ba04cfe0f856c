"""The registry's MLflow model, defined as code (MLflow's models-from-code): a pyfunc whose `predict` maps a list of
sentences to the text tower's unit embeddings, (N, C) float32. lavimo.registry logs this file with a checkpoint as
the model's artifact; MLflow runs it when the model is loaded."""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc
import numpy as np

from lavimo.checkpoint import load_model
from lavimo.eval.query import QueryEncoder


class SentenceEmbedder(mlflow.pyfunc.PythonModel):
    """predict(a list of sentences) -> (N, C) float32 unit embeddings of the checkpoint's text tower."""

    def load_context(self, context) -> None:
        self.encoder = QueryEncoder(load_model(context.artifacts["checkpoint"])[0])

    def predict(self, context, model_input: list[str], params=None) -> np.ndarray:
        return self.encoder.texts([str(text) for text in model_input]).astype(np.float32)  # (N, C)


mlflow.models.set_model(SentenceEmbedder())

"""Training workflow: `fit` with progress bars, metrics, callbacks and resuming; `evaluate`;
`History` (plain data, INTERFACES §4); callbacks `EarlyStopping`, `Checkpoint`,
`LayerStats`; sanity checks `check_initial_loss`, `overfit_small_batch`.

    from nn import training
    history = training.fit(model, nn.CrossEntropyLoss(), opt, train_loader, val_loader,
                           epochs=30, callbacks=[training.EarlyStopping(patience=5)])
    history.best, history["val_loss"]
"""
from .callbacks import Callback, Checkpoint, EarlyStopping
from .history import History
from .layer_stats import SATURATION, LayerStats, activation_summary, gradient_summary
from .loop import Run, evaluate, fit
from .metrics import accuracy, binary_accuracy
from .sanity import InitialLoss, OverfitResult, check_initial_loss, overfit_small_batch

__all__ = ["fit", "evaluate", "History", "Run", "Callback", "EarlyStopping", "Checkpoint",
           "LayerStats", "SATURATION", "activation_summary", "gradient_summary", "accuracy",
           "binary_accuracy", "check_initial_loss", "overfit_small_batch", "InitialLoss",
           "OverfitResult"]

"""Options of one `dermscreen-train fit` run (CLI flags map one to one) and their checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import REFERENCE_WINDOW, SsimWindow
from desktop_app.core.model.score_stats import DEFAULT_ALPHA


@dataclass
class FitConfig:
    """Options of one training run (CLI flags map one to one)."""

    data_dir: Path
    out_dir: Path
    w_mse: float = 0.4
    w_ssim: float = 0.6
    hair_removal: bool = True
    colour_constancy: str = "none"  # "shades_of_gray": core.preprocess.shades_of_gray (p = 6)
    epochs: int = 50
    batch_size: int = 32
    alpha: float = DEFAULT_ALPHA
    seed: int = 42
    limit: int | None = None
    val_fraction: float = 0.15
    learning_rate: float = 1e-3
    # Improvements beyond the reference (issue 8); the defaults reproduce the reference.
    augment: bool = False
    ssim_sigma: float = REFERENCE_WINDOW.sigma
    ssim_border: str = REFERENCE_WINDOW.border
    # Issue 13: more benign lesions and epochs chosen by validation loss.
    # extra_benign: the shared data folder; adds the ham-extra nevi of the committed
    # train / validation splits (resources/splits) to the isic9 benign pool.
    extra_benign: Path | None = None
    patience: int | None = None  # stop after this many epochs without a lower val_loss
    max_minutes: float | None = None  # stop after the epoch that passes this training time
    # Issue 13's semi-supervised track: this share of the audited Train malignant images
    # trains as known anomalies (training.losses.known_anomaly_loss); the rest stays
    # validation. None: benign images only (the reference and every unsupervised model).
    known_anomalies: float | None = None
    # Issue 13 item 4: a VAE (training.model.build_vae) instead of the CAE; kl_weight None:
    # 1 / (size * size * 3), a standard VAE against the per-pixel mean reconstruction loss.
    variational: bool = False
    kl_weight: float | None = None
    anomaly_margin: float = 0.2
    anomaly_weight: float = 1.0
    # Issue 17: the longest side hair removal runs on (PreprocessConfig.hair_work_max_side);
    # Telea inpainting cost grows with its square. Stored in the model: the app follows it.
    hair_work_side: int = PreprocessConfig.hair_work_max_side
    # Issue 13 item 3: leave the dermoscope's vignette out of the training loss too (and so
    # out of the score, threshold and heatmap, which must measure what the loss measured).
    fov_loss: bool = False

    @property
    def ssim_window(self) -> SsimWindow:
        return SsimWindow(self.ssim_sigma, self.ssim_border)

    def validate(self) -> None:
        from desktop_app.core.imaging.preprocess import COLOUR_CONSTANCY

        if self.colour_constancy not in COLOUR_CONSTANCY:
            msg = f"--colour-constancy must be one of {list(COLOUR_CONSTANCY)}"
            raise ValueError(msg)
        if self.epochs < 1 or self.batch_size < 1:
            msg = "epochs and batch size must be at least 1"
            raise ValueError(msg)
        if self.w_mse < 0 or self.w_ssim < 0 or self.w_mse + self.w_ssim <= 0:
            msg = f"loss weights must be non-negative and not both zero: {self.w_mse}, {self.w_ssim}"
            raise ValueError(msg)
        try:
            self.ssim_window  # noqa: B018  (validates sigma and border)
        except ValueError as exc:
            msg = f"bad SSIM window (--ssim-sigma/--ssim-border): {exc}"
            raise ValueError(msg) from None
        if self.patience is not None and self.patience < 1:
            msg = f"--patience must be at least 1, got {self.patience}"
            raise ValueError(msg)
        if self.max_minutes is not None and self.max_minutes <= 0:
            msg = f"--max-minutes must be positive, got {self.max_minutes}"
            raise ValueError(msg)
        if self.kl_weight is not None and not (self.variational and self.kl_weight > 0):
            msg = "--kl-weight needs --variational and must be positive"
            raise ValueError(msg)
        if self.known_anomalies is not None:
            if not 0.0 < self.known_anomalies < 1.0:
                msg = f"--known-anomalies must lie in (0, 1), got {self.known_anomalies}"
                raise ValueError(msg)
            if self.augment:
                msg = "--known-anomalies does not combine with --augment"
                raise ValueError(msg)
            if self.anomaly_margin <= 0 or self.anomaly_weight <= 0:
                msg = "--anomaly-margin and --anomaly-weight must be positive"
                raise ValueError(msg)
        try:
            PreprocessConfig(hair_work_max_side=self.hair_work_side)
        except ValueError as exc:
            msg = f"bad --hair-work-side: {exc}"
            raise ValueError(msg) from None
        if self.fov_loss and (self.known_anomalies is not None or self.variational):
            msg = "--fov-loss trains the plain CAE only (not with --known-anomalies or --variational)"
            raise ValueError(msg)
        if self.limit is not None and self.limit < 4:
            msg = f"--limit must be at least 4 images, got {self.limit}"
            raise ValueError(msg)

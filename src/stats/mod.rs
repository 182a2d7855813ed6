//! Statistics on attack scores (to be written): exact ROC with ties, AUC with
//! a 95% CI, TPR at fixed FPRs with resolvability, membership advantage, PPV,
//! empirical epsilon lower bound (Clopper-Pearson), per-class slices, most
//! exposed records.

//! Manual exposures: logging, later, an exposure for a result that was evaluated without
//! one ([`flagcore::Exposures::Suppress`]), as the official SDK's `manually_log_*_exposure`.

use flagcore::{Evaluation, Exposure, Kind, User};

use crate::exposures::{EventLogger, Trigger};

impl EventLogger {
    /// Logs the exposure of a gate, dynamic config or experiment result evaluated earlier
    /// without logging (with [`flagcore::Exposures::Suppress`]), for example once the
    /// user actually sees the feature. The event is the one the evaluation would have
    /// logged, plus `isManualExposure: "true"`. Repeats within the window are dropped; as
    /// in the official core, a manual exposure is keyed apart from the one the evaluation
    /// logs (its key leaves out the unit id of the result's id type), so logging both
    /// sends both whenever the user has that id.
    ///
    /// A layer result logs nothing here: layers are exposed per parameter, with
    /// [`EventLogger::log_manual_layer_exposure`].
    ///
    /// ```no_run
    /// # fn run(logger: &flagcore_sync::EventLogger, store: &flagcore::Store) {
    /// use flagcore::{Exposure, Exposures, Kind, Scratch, User};
    /// let user = User::with_user_id("u1");
    /// let snapshot = store.snapshot();
    /// let mut scratch = Scratch::new();
    /// let result = snapshot.evaluate(&mut scratch, &user, Kind::Gate, "new_checkout", Exposures::Suppress);
    /// // … later, when the user reaches the checkout:
    /// logger.log_manual_exposure(&Exposure::new(&user, &result));
    /// # }
    /// ```
    pub fn log_manual_exposure(&self, exposure: &Exposure<'_>) {
        if exposure.evaluation.kind() != Kind::Layer {
            self.enqueue(exposure, None, Trigger::Manual);
        }
    }

    /// Logs a manual layer exposure for `parameter` of a layer result evaluated earlier,
    /// as the official `manually_log_layer_parameter_exposure`: the event a read of the
    /// parameter logs, plus `isManualExposure: "true"`, with the layer's rule id and its
    /// raw undelegated exposures (see [`Evaluation::raw_undelegated_secondary_exposures`]).
    /// Like the official call, it logs whether or not the layer has that parameter.
    pub fn log_manual_layer_exposure(
        &self,
        user: &User<'_>,
        layer: &Evaluation<'_>,
        parameter: &str,
    ) {
        if layer.kind() == Kind::Layer {
            let exposure = Exposure {
                user,
                evaluation: layer,
                parameter: Some(parameter),
                manual: true,
            };
            self.enqueue(&exposure, Some(parameter), Trigger::Manual);
        }
    }
}

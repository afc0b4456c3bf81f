//! The OpenFeature provider.

use std::sync::Arc;

use async_trait::async_trait;
use flagcore::serde_json::{Map, Value as Json};
use flagcore::{Exposures, Scratch, Store};
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue, Value,
};

use crate::context::{user_from_context, ContextError, ContextOptions};
use crate::resolve::{
    resolve, CatalogCache, FlagValue, MetaValue, ResolutionReason, ResolveError, Resolved,
};

/// An OpenFeature [`FeatureProvider`] that evaluates with a flagcore [`Store`], in process.
///
/// Keep the store fresh with `flagcore-sync` (or load it yourself); the provider reads a
/// snapshot per evaluation. Flag keys, reasons, variants and metadata are those of
/// [`crate::resolve`]; the context mapping is [`crate::context`].
pub struct FlagcoreProvider {
    store: Arc<Store>,
    catalogs: CatalogCache,
    metadata: ProviderMetadata,
    context: ContextOptions,
    exposures: Exposures,
}

impl core::fmt::Debug for FlagcoreProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlagcoreProvider")
            .field("context", &self.context)
            .field("exposures", &self.exposures)
            .finish_non_exhaustive()
    }
}

impl FlagcoreProvider {
    /// A provider over `store`, logging exposures to the store's sink (if it has one).
    pub fn new(store: Arc<Store>) -> FlagcoreProvider {
        FlagcoreProvider {
            store,
            catalogs: CatalogCache::new(),
            metadata: ProviderMetadata::new("flagcore"),
            context: ContextOptions::default(),
            exposures: Exposures::Log,
        }
    }

    /// How evaluation contexts are mapped to users.
    pub fn context_options(mut self, options: ContextOptions) -> Self {
        self.context = options;
        self
    }

    /// Whether evaluations log exposures (on by default).
    pub fn log_exposures(mut self, on: bool) -> Self {
        self.exposures = if on {
            Exposures::Log
        } else {
            Exposures::Suppress
        };
        self
    }

    /// Resolves `key` and converts the value with `convert` (`None`: a type mismatch).
    fn resolve_as<T>(
        &self,
        key: &str,
        context: &EvaluationContext,
        expected: &str,
        convert: impl FnOnce(&FlagValue<'_>) -> Option<Result<T, EvaluationError>>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let user = user_from_context(context_fields(context)?, self.context).map_err(error)?;
        let user = user.view();
        let snapshot = self.store.snapshot();
        let catalog = self.catalogs.get(&snapshot);
        let mut scratch = Scratch::new();
        let r = resolve(
            &snapshot,
            &mut scratch,
            catalog.as_deref(),
            &user,
            key,
            self.exposures,
            None,
        )
        .map_err(resolve_error)?;
        let value = convert(&r.value).ok_or_else(|| EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!("flag {key:?} is not {expected}")),
        })??;
        Ok(details(value, &r))
    }
}

fn details<T>(value: T, r: &Resolved<'_>) -> ResolutionDetails<T> {
    let mut metadata = FlagMetadata::default();
    for (k, MetaValue::Str(v)) in r.metadata() {
        metadata.add_value(k, v);
    }
    ResolutionDetails {
        value,
        variant: Some(r.variant().to_owned()),
        reason: Some(match r.reason {
            ResolutionReason::Static => EvaluationReason::Static,
            ResolutionReason::Default => EvaluationReason::Default,
            ResolutionReason::TargetingMatch => EvaluationReason::TargetingMatch,
            ResolutionReason::Split => EvaluationReason::Split,
            ResolutionReason::Cached => EvaluationReason::Cached,
            ResolutionReason::Disabled => EvaluationReason::Disabled,
            ResolutionReason::Unknown => EvaluationReason::Unknown,
        }),
        flag_metadata: Some(metadata),
    }
}

fn resolve_error(e: ResolveError) -> EvaluationError {
    let code = match &e {
        ResolveError::FlagNotFound(_) => EvaluationErrorCode::FlagNotFound,
        ResolveError::NotReady => EvaluationErrorCode::ProviderNotReady,
        _ => EvaluationErrorCode::General("GENERAL".into()),
    };
    EvaluationError {
        code,
        message: Some(e.to_string()),
    }
}

fn error(e: ContextError) -> EvaluationError {
    let code = match e {
        ContextError::TargetingKeyMissing => EvaluationErrorCode::TargetingKeyMissing,
        _ => EvaluationErrorCode::InvalidContext,
    };
    EvaluationError {
        code,
        message: Some(e.to_string()),
    }
}

fn invalid(key: &str, what: &str) -> EvaluationError {
    EvaluationError {
        code: EvaluationErrorCode::InvalidContext,
        message: Some(format!("context field {key:?}: {what}")),
    }
}

/// The context as JSON entries: `targetingKey` first, then the custom fields. A struct
/// field must hold a `serde_json::Value`, a `serde_json::Map` or an OpenFeature
/// [`StructValue`]; a date-time becomes milliseconds since the Unix epoch.
fn context_fields(context: &EvaluationContext) -> EvaluationResult<Vec<(String, Json)>> {
    let mut out = Vec::with_capacity(context.custom_fields.len() + 1);
    if let Some(k) = &context.targeting_key {
        out.push(("targetingKey".to_owned(), Json::String(k.clone())));
    }
    for (k, v) in &context.custom_fields {
        let json = match v {
            EvaluationContextFieldValue::Bool(b) => Json::Bool(*b),
            EvaluationContextFieldValue::Int(i) => Json::from(*i),
            EvaluationContextFieldValue::Float(f) => Json::from(*f),
            EvaluationContextFieldValue::String(s) => Json::String(s.clone()),
            EvaluationContextFieldValue::DateTime(t) => {
                let ms = t.unix_timestamp_nanos() / 1_000_000;
                Json::from(i64::try_from(ms).map_err(|_| invalid(k, "date out of range"))?)
            }
            EvaluationContextFieldValue::Struct(any) => {
                if let Some(j) = any.downcast_ref::<Json>() {
                    j.clone()
                } else if let Some(m) = any.downcast_ref::<Map<String, Json>>() {
                    Json::Object(m.clone())
                } else if let Some(s) = any.downcast_ref::<StructValue>() {
                    struct_to_json(s)
                } else {
                    return Err(invalid(
                        k,
                        "a struct must be a serde_json::Value, serde_json::Map or StructValue",
                    ));
                }
            }
        };
        out.push((k.clone(), json));
    }
    Ok(out)
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::from(*f),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(a) => Json::Array(a.iter().map(value_json).collect()),
        Value::Struct(s) => struct_to_json(s),
    }
}

/// An OpenFeature struct as JSON (a struct result back in the form flagcore's values have;
/// also how struct context fields are read).
pub fn struct_to_json(s: &StructValue) -> Json {
    Json::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

/// A JSON value as an OpenFeature value: `null` object fields are left out (OpenFeature
/// values have no null); a `null` array element is a `PARSE_ERROR`.
fn json_value(j: &Json) -> Result<Value, EvaluationError> {
    Ok(match j {
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_value).collect::<Result<_, _>>()?),
        Json::Object(o) => Value::Struct(object_struct(o.iter().map(|(k, v)| (&**k, v)))?),
        Json::Null => {
            return Err(EvaluationError {
                code: EvaluationErrorCode::ParseError,
                message: Some("a null array element has no OpenFeature value".into()),
            })
        }
    })
}

fn object_struct<'j>(
    entries: impl Iterator<Item = (&'j str, &'j Json)>,
) -> Result<StructValue, EvaluationError> {
    let mut s = StructValue::default();
    for (k, v) in entries.filter(|(_, v)| !v.is_null()) {
        s.add_field(k, json_value(v)?);
    }
    Ok(s)
}

#[async_trait]
impl FeatureProvider for FlagcoreProvider {
    fn status(&self) -> ProviderStatus {
        if self.store.ruleset().is_some() {
            ProviderStatus::Ready
        } else {
            ProviderStatus::NotReady
        }
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve_as(flag_key, context, "a boolean", |v| match v {
            FlagValue::Bool(b) => Some(Ok(*b)),
            FlagValue::Json(Json::Bool(b)) => Some(Ok(*b)),
            _ => None,
        })
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve_as(flag_key, context, "an integer", |v| match v {
            FlagValue::Json(Json::Number(n)) => n.as_i64().map(Ok),
            _ => None,
        })
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve_as(flag_key, context, "a number", |v| match v {
            FlagValue::Json(Json::Number(n)) => n.as_f64().map(Ok),
            _ => None,
        })
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve_as(flag_key, context, "a string", |v| match v {
            FlagValue::Json(Json::String(s)) => Some(Ok(s.clone())),
            _ => None,
        })
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        self.resolve_as(flag_key, context, "an object", |v| match v {
            FlagValue::Object(o) => Some(object_struct(o.iter())),
            FlagValue::Json(Json::Object(o)) => {
                Some(object_struct(o.iter().map(|(k, v)| (&**k, v))))
            }
            _ => None,
        })
    }
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flagcore::{Exposure, ExposureSink, Options, Store};
use flagcore_openfeature::FlagcoreProvider;
use open_feature::provider::FeatureProvider;
use open_feature::{
    Client, EvaluationContext, EvaluationContextFieldValue, EvaluationDetails, EvaluationError,
    EvaluationErrorCode, EvaluationReason, FlagMetadataValue, OpenFeature, StructValue, Value,
};

const PAYLOAD: &[u8] = include_bytes!("../data/small.json");

#[derive(Default)]
struct Counting(AtomicUsize);

impl ExposureSink for Counting {
    fn log(&self, _: &Exposure<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn store_with(sink: Option<Arc<Counting>>) -> Arc<Store> {
    let store = Store::with_options(Options {
        exposure_sink: sink.map(|s| s as Arc<dyn ExposureSink>),
        ..Options::default()
    });
    store.load_json(PAYLOAD).expect("valid payload");
    Arc::new(store)
}

async fn client(provider: FlagcoreProvider) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(provider).await;
    api.create_client()
}

fn user(id: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(id)
}

fn meta(flag_metadata: &open_feature::FlagMetadata, key: &str) -> Option<String> {
    match flag_metadata.values.get(key) {
        Some(FlagMetadataValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn gates_resolve_to_booleans_with_reasons_variants_and_metadata() {
    let c = client(FlagcoreProvider::new(store_with(None))).await;
    let d = c
        .get_bool_details("on", Some(&user("u1")), None)
        .await
        .expect("resolves");
    assert!(d.value);
    assert_eq!(d.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(d.variant.as_deref(), Some("everyone"));
    assert_eq!(
        meta(&d.flag_metadata, "ruleId").as_deref(),
        Some("everyone")
    );
    assert_eq!(meta(&d.flag_metadata, "kind").as_deref(), Some("gate"));

    // Disabled: a successful evaluation with reason DISABLED.
    let d = c
        .get_bool_details("off", Some(&user("u1")), None)
        .await
        .expect("resolves");
    assert!(!d.value);
    assert_eq!(d.reason, Some(EvaluationReason::Disabled));
    assert_eq!(
        meta(&d.flag_metadata, "ruleId").as_deref(),
        Some("disabled")
    );

    let d = c
        .get_bool_details("acme_only", Some(&user("u1")), None)
        .await
        .expect("resolves");
    assert_eq!(
        (d.value, d.reason),
        (false, Some(EvaluationReason::Default))
    );
    let acme = user("u1").with_custom_field("email", "ana@acme.com");
    assert!(c
        .get_bool_value("acme_only", Some(&acme), None)
        .await
        .expect("resolves"));
}

#[tokio::test]
async fn configs_resolve_to_structs_and_typed_parameters() {
    let c = client(FlagcoreProvider::new(store_with(None))).await;
    let nz = user("u1").with_custom_field("country", "NZ");
    let d: EvaluationDetails<StructValue> = c
        .get_struct_details("pricing", Some(&nz), None)
        .await
        .expect("resolves");
    assert_eq!(
        d.value.fields.get("currency"),
        Some(&Value::String("NZD".into()))
    );
    assert_eq!(d.value.fields.get("discount"), Some(&Value::Int(5)));
    assert_eq!(d.value.fields.get("rate"), Some(&Value::Float(1.5)));
    assert_eq!(d.variant.as_deref(), Some("rule_nz"));
    let opt = Some(&nz);
    assert_eq!(
        c.get_string_value("pricing.currency", opt, None)
            .await
            .expect("string"),
        "NZD"
    );
    assert_eq!(
        c.get_int_value("pricing.discount", opt, None)
            .await
            .expect("int"),
        5
    );
    assert_eq!(
        c.get_float_value("pricing.rate", opt, None)
            .await
            .expect("float"),
        1.5
    );
    assert_eq!(
        c.get_float_value("pricing.discount", opt, None)
            .await
            .expect("float"),
        5.0
    );

    // An experiment group: SPLIT, the group as the variant.
    let d: EvaluationDetails<StructValue> = c
        .get_struct_details("button", Some(&user("u1")), None)
        .await
        .expect("resolves");
    assert_eq!(
        d.value.fields.get("color"),
        Some(&Value::String("green".into()))
    );
    assert_eq!(d.reason, Some(EvaluationReason::Split));
    assert_eq!(d.variant.as_deref(), Some("Test"));
    assert_eq!(meta(&d.flag_metadata, "groupName").as_deref(), Some("Test"));
    // A layer parameter.
    assert_eq!(
        c.get_int_value("layer:page.size", Some(&user("u1")), None)
            .await
            .expect("int"),
        12
    );
}

async fn error_code<T: std::fmt::Debug>(r: Result<T, EvaluationError>) -> EvaluationErrorCode {
    r.expect_err("an error").code
}

#[tokio::test]
async fn errors_are_flag_not_found_type_mismatch_parse_error_and_not_ready() {
    let c = client(FlagcoreProvider::new(store_with(None))).await;
    let u = user("u1");
    let u = Some(&u);
    assert_eq!(
        error_code(c.get_bool_details("missing", u, None).await).await,
        EvaluationErrorCode::FlagNotFound
    );
    assert_eq!(
        error_code(c.get_int_details("pricing.nothing", u, None).await).await,
        EvaluationErrorCode::FlagNotFound
    );
    assert_eq!(
        error_code(c.get_bool_details("pricing", u, None).await).await,
        EvaluationErrorCode::TypeMismatch
    );
    assert_eq!(
        error_code(c.get_string_details("on", u, None).await).await,
        EvaluationErrorCode::TypeMismatch
    );
    assert_eq!(
        error_code(c.get_int_details("pricing.currency", u, None).await).await,
        EvaluationErrorCode::TypeMismatch
    );
    // 1.5 is no integer.
    let nz = user("u1").with_custom_field("country", "NZ");
    assert_eq!(
        error_code(c.get_int_details("pricing.rate", Some(&nz), None).await).await,
        EvaluationErrorCode::TypeMismatch
    );
    // A null array element has no OpenFeature value; a null field is left out.
    assert_eq!(
        error_code(c.get_struct_details::<StructValue>("nulls", u, None).await).await,
        EvaluationErrorCode::ParseError
    );
    assert_eq!(
        c.get_string_value("nulls.kept", u, None)
            .await
            .expect("string"),
        "yes"
    );
    // The SDK's default value comes back with the error.
    assert!(c.get_bool_value("missing", u, None).await.is_err());

    let empty = FlagcoreProvider::new(Arc::new(Store::new()));
    assert_eq!(
        empty.status(),
        open_feature::provider::ProviderStatus::NotReady
    );
    let c = client(empty).await;
    assert_eq!(
        error_code(c.get_bool_details("on", u, None).await).await,
        EvaluationErrorCode::ProviderNotReady
    );
}

#[tokio::test]
async fn contexts_map_custom_fields_and_custom_ids() {
    let c = client(FlagcoreProvider::new(store_with(None))).await;
    let pro = user("u1").with_custom_field("plan", "pro");
    assert!(c
        .get_bool_value("pro_plan", Some(&pro), None)
        .await
        .expect("bool"));
    let ids = user("u1").with_custom_field(
        "customIDs",
        EvaluationContextFieldValue::new_struct(serde_json::json!({"companyID": "acme"})),
    );
    assert!(c
        .get_bool_value("company_gate", Some(&ids), None)
        .await
        .expect("bool"));
    let ids = user("u1").with_custom_field(
        "customIDs",
        EvaluationContextFieldValue::new_struct(
            StructValue::default().with_field("companyID", "other"),
        ),
    );
    assert!(!c
        .get_bool_value("company_gate", Some(&ids), None)
        .await
        .expect("bool"));
    let bad = user("u1").with_custom_field("customIDs", "acme");
    assert_eq!(
        error_code(c.get_bool_details("company_gate", Some(&bad), None).await).await,
        EvaluationErrorCode::InvalidContext
    );
    let opaque = user("u1").with_custom_field(
        "thing",
        EvaluationContextFieldValue::new_struct(std::time::Duration::from_secs(1)),
    );
    assert_eq!(
        error_code(c.get_bool_details("on", Some(&opaque), None).await).await,
        EvaluationErrorCode::InvalidContext
    );
    let strict = FlagcoreProvider::new(store_with(None)).context_options(
        flagcore_openfeature::context::ContextOptions::default().require_targeting_key(true),
    );
    let c = client(strict).await;
    assert_eq!(
        error_code(
            c.get_bool_details("on", Some(&EvaluationContext::default()), None)
                .await
        )
        .await,
        EvaluationErrorCode::TargetingKeyMissing
    );
}

/// What the hook saw: flag key, rule id, group name, kind.
type Seen = (String, Option<String>, Option<String>, Option<String>);

/// A hook that keeps what `after` saw.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

#[async_trait::async_trait]
impl open_feature::Hook for Recorder {
    async fn before<'a>(
        &self,
        _: &open_feature::HookContext<'a>,
        _: Option<&'a open_feature::HookHints>,
    ) -> Result<Option<EvaluationContext>, EvaluationError> {
        Ok(None)
    }
    async fn after<'a>(
        &self,
        context: &open_feature::HookContext<'a>,
        details: &EvaluationDetails<Value>,
        _: Option<&'a open_feature::HookHints>,
    ) -> Result<(), EvaluationError> {
        let m = &details.flag_metadata;
        self.0.lock().expect("lock").push((
            context.flag_key.to_owned(),
            meta(m, "ruleId"),
            meta(m, "groupName"),
            meta(m, "kind"),
        ));
        Ok(())
    }
    async fn error<'a>(
        &self,
        _: &open_feature::HookContext<'a>,
        _: &EvaluationError,
        _: Option<&'a open_feature::HookHints>,
    ) {
    }
    async fn finally<'a>(
        &self,
        _: &open_feature::HookContext<'a>,
        _: &EvaluationDetails<Value>,
        _: Option<&'a open_feature::HookHints>,
    ) {
    }
}

#[tokio::test]
async fn hooks_see_flagcores_evaluation_details() {
    let recorder = Recorder::default();
    let c = client(FlagcoreProvider::new(store_with(None)))
        .await
        .with_hook(recorder.clone());
    let u = user("u1");
    c.get_bool_value("on", Some(&u), None).await.expect("bool");
    c.get_struct_value::<StructValue>("button", Some(&u), None)
        .await
        .expect("struct");
    let seen = recorder.0.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [
            (
                "on".into(),
                Some("everyone".into()),
                None,
                Some("gate".into())
            ),
            (
                "button".into(),
                Some("grp_test".into()),
                Some("Test".into()),
                Some("experiment".into())
            ),
        ]
    );
}

#[tokio::test]
async fn the_singleton_api_and_exposures() {
    let sink = Arc::new(Counting::default());
    {
        let mut api = OpenFeature::singleton_mut().await;
        api.set_provider(FlagcoreProvider::new(store_with(Some(sink.clone()))))
            .await;
    }
    let c = OpenFeature::singleton().await.create_client();
    assert!(c
        .get_bool_value("on", Some(&user("u1")), None)
        .await
        .expect("bool"));
    assert_eq!(sink.0.load(Ordering::Relaxed), 1, "one exposure logged");

    let quiet = Arc::new(Counting::default());
    let c =
        client(FlagcoreProvider::new(store_with(Some(quiet.clone()))).log_exposures(false)).await;
    assert!(c
        .get_bool_value("on", Some(&user("u1")), None)
        .await
        .expect("bool"));
    assert_eq!(quiet.0.load(Ordering::Relaxed), 0);
}

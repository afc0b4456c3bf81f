//! Statsig's user JSON: a user is a JSON object, nothing else.

use flagcore::UserData;

/// Regression (outside review): serde reads a struct from a JSON array too, field by field,
/// so `["u1","a@b.com"]` became a user with that userID and email. It must be an error.
#[test]
fn a_user_must_be_a_json_object() {
    for json in [r#"["u1","a@b.com"]"#, "[]", r#""u1""#, "7", "true", "null"] {
        let error = UserData::from_json(json.as_bytes()).expect_err(json);
        assert!(
            error.to_string().contains("a user must be a JSON object"),
            "{json}: {error}"
        );
        assert!(
            serde_json::from_str::<UserData>(json).is_err(),
            "{json} deserialised as a user"
        );
    }
    let user = UserData::from_json(br#"{"userID": "u1", "email": "a@b.com"}"#).expect("an object");
    assert_eq!(user.user_id, "u1");
    assert_eq!(user.email, "a@b.com");
    assert_eq!(
        UserData::from_json(b"{}").expect("empty"),
        UserData::default()
    );
}

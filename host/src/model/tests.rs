use super::*;
use serde_json::json;

#[test]
fn unknown_fields_pass_through_unchanged_in_order() {
    let sent =
        json!({"zeta": {"nested": [1, 2.5, null]}, "type": "agent", "content": "hi", "alpha": "x"});
    let map = prepare_message(sent, 7).unwrap();
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["zeta", "type", "content", "alpha", "idx", "timestamp"]
    );
    assert_eq!(map["zeta"], json!({"nested": [1, 2.5, null]}));
    assert_eq!(map["idx"], json!(7));
}

#[test]
fn idx_from_the_agent_is_replaced_and_timestamp_kept() {
    let sent = json!({"type": "user", "idx": "bogus", "timestamp": "2025-01-01T00:00:00Z"});
    let map = prepare_message(sent, 3).unwrap();
    assert_eq!(map["idx"], json!(3));
    assert_eq!(map["timestamp"], json!("2025-01-01T00:00:00Z"));
}

#[test]
fn bad_messages_are_refused() {
    assert_eq!(prepare_message(json!([1]), 0), Err(ModelError::NotAnObject));
    assert_eq!(
        prepare_message(json!({"content": "x"}), 0),
        Err(ModelError::MissingType)
    );
    assert_eq!(
        prepare_message(json!({"type": "robot"}), 0),
        Err(ModelError::UnknownType("robot".into()))
    );
    assert!(matches!(
        prepare_message(json!({"type": "tool", "elapsed": "soon"}), 0),
        Err(ModelError::InvalidField(_))
    ));
}

#[test]
fn typed_round_trip_keeps_sketch_camel_case_and_extras() {
    let sent = json!({"type": "tool", "toolResponses": [1], "turnDuration": 5, "mystery": true});
    let msg: AgentMessage = serde_json::from_value(sent).unwrap();
    let back = Value::Object(msg.to_object());
    assert_eq!(back["toolResponses"], json!([1]));
    assert_eq!(back["turnDuration"], json!(5));
    assert_eq!(back["mystery"], json!(true));
}

#[test]
fn merge_patch_merges_deletes_and_protects_log_fields() {
    let state = json!({"title": "a", "total_usage": {"input_tokens": 1, "output_tokens": 2}, "message_count": 4})
        .as_object()
        .unwrap()
        .clone();
    let patch = json!({"title": null, "total_usage": {"output_tokens": 9}, "message_count": 99, "custom": 1});
    let next = merge_state(&state, &patch).unwrap();
    assert_eq!(
        Value::Object(next),
        json!({"total_usage": {"input_tokens": 1, "output_tokens": 9}, "message_count": 4, "custom": 1})
    );
}

#[test]
fn merge_patch_refuses_wrong_types() {
    let state = Map::new();
    assert_eq!(merge_state(&state, &json!(3)), Err(ModelError::NotAnObject));
    assert!(matches!(
        merge_state(&state, &json!({"outstanding_llm_calls": "many"})),
        Err(ModelError::InvalidField(_))
    ));
}

#[test]
fn unknown_agent_state_is_kept() {
    let s: State = serde_json::from_value(json!({"agent_state": "Dreaming"})).unwrap();
    assert_eq!(s.agent_state, Some(AgentState::Other("Dreaming".into())));
    let s: State = serde_json::from_value(json!({"agent_state": "SendingToLLM"})).unwrap();
    assert_eq!(s.agent_state, Some(AgentState::SendingToLlm));
}

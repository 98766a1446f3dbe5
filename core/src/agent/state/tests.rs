use super::*;

/// A State as the server sends it: every PROTOCOL.md §4 field, plus fields this crate does not
/// know (of every JSON shape), a title longer than 64 bytes, more tool calls than kept and a
/// tool name longer than 32 bytes.
const FULL_STATE: &str = concat!(
    "{",
    r#""message_count":1234,"#,
    r#""epoch":"7f3c9a12-4b6e-4d0a-9c1e-2f5b8d7e6a01","#,
    r#""title":"Refactor the \"billing\" service: split invoices\nand payments into crates","#,
    r#""agent_state":"RunningTool","#,
    r#""outstanding_llm_calls":1,"#,
    r#""outstanding_tool_calls":["bash","patch","a_tool_name_that_is_longer_than_32_bytes","keyword_search","browser_navigate","codereview"],"#,
    r#""total_usage":{"input_tokens":1523411,"output_tokens":88210,"cache_read_input_tokens":901234,"#,
    r#""cache_creation_input_tokens":12000,"total_cost_usd":12.375,"messages":211,"tool_uses":97,"#,
    r#""start_time":"2025-05-01T09:30:00.123456789Z","per_model":{"claude":{"in":1,"out":[2,3]}}},"#,
    r#""session_id":"s-42","first_message_index":0,"hostname":"dev-box.local","#,
    r#""working_dir":"/home/u/src/billing","initial_commit":"0123abcd","#,
    r#""session_ended":false,"can_send_messages":true,"#,
    r#""unknown_nested":{"a":[{"b":{"c":[1,2,{"d":null}]}},[[[]]],{}],"e":"x}]\"y"},"#,
    r#""unknown_array":[true,false,null,-1.5e-3,"s",{"k":"v"}],"#,
    r#""unknown_number":-42.5E+2,"unknown_null":null,"unknown_bool":true,"#,
    r#""outstanding_tool_calls_v2":{"bash":{"id":"t1"}}"#,
    "}"
);

#[test]
fn full_state_parses_with_unknowns_ignored() {
    let s = DeviceState::parse(FULL_STATE.as_bytes()).unwrap();
    assert_eq!(s.message_count, 1234);
    assert_eq!(s.epoch.as_str(), "7f3c9a12-4b6e-4d0a-9c1e-2f5b8d7e6a01");
    assert_eq!(s.agent_state, AgentState::RunningTool);
    assert_eq!(s.outstanding_llm_calls, 1);
    assert_eq!(s.input_tokens, 1_523_411);
    assert_eq!(s.output_tokens, 88_210);
    assert_eq!(s.total_cost_micro_usd, 12_375_000);
    assert!(!s.session_ended);
    assert!(s.can_send_messages);
    assert_eq!(s.activity(), Activity::RunningTool);
}

#[test]
fn long_title_is_unescaped_and_cut_at_64_bytes() {
    let s = DeviceState::parse(FULL_STATE.as_bytes()).unwrap();
    let full = "Refactor the \"billing\" service: split invoices\nand payments into crates";
    assert!(full.len() > TITLE_LEN);
    assert_eq!(s.title.as_str(), &full[..TITLE_LEN]);
}

#[test]
fn tool_calls_keep_the_first_four_names_cut_to_32_bytes() {
    let s = DeviceState::parse(FULL_STATE.as_bytes()).unwrap();
    let names: std::vec::Vec<&str> = s
        .outstanding_tool_calls
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "bash",
            "patch",
            "a_tool_name_that_is_longer_than_",
            "keyword_search"
        ]
    );
}

#[test]
fn truncation_never_splits_a_char() {
    // 63 ASCII bytes then a 2-byte char: the char does not fit whole and is dropped.
    let title = std::format!("{}\u{e9}tail", "x".repeat(63));
    let json = std::format!(r#"{{"title":"{title}"}}"#);
    let s = DeviceState::parse(json.as_bytes()).unwrap();
    assert_eq!(s.title.as_str(), "x".repeat(63));
    // Same through an escape: \u00e9 is decoded, then cut the same way.
    let json = std::format!(r#"{{"title":"{}\u00e9"}}"#, "x".repeat(63));
    let s = DeviceState::parse(json.as_bytes()).unwrap();
    assert_eq!(s.title.as_str(), "x".repeat(63));
}

#[test]
fn escapes_are_decoded() {
    let json = br#"{"title":"a\"b\\c\/d\te\u00e9\ud83d\ude00\ud800x"}"#;
    let s = DeviceState::parse(json).unwrap();
    assert_eq!(s.title.as_str(), "a\"b\\c/d\te\u{e9}\u{1F600}\u{FFFD}x");
}

#[test]
fn every_agent_state_name_maps_and_round_trips() {
    let all = [
        ("Ready", AgentState::Ready, Activity::Idle),
        (
            "WaitingForUserInput",
            AgentState::WaitingForUserInput,
            Activity::WaitingForUser,
        ),
        (
            "SendingToLLM",
            AgentState::SendingToLlm,
            Activity::ModelCall,
        ),
        (
            "ProcessingLLMResponse",
            AgentState::ProcessingLlmResponse,
            Activity::ModelCall,
        ),
        (
            "ToolUseRequested",
            AgentState::ToolUseRequested,
            Activity::RunningTool,
        ),
        (
            "RunningTool",
            AgentState::RunningTool,
            Activity::RunningTool,
        ),
        ("EndOfTurn", AgentState::EndOfTurn, Activity::WaitingForUser),
        ("Cancelled", AgentState::Cancelled, Activity::Ended),
        (
            "BudgetExceeded",
            AgentState::BudgetExceeded,
            Activity::Ended,
        ),
        ("Error", AgentState::Error, Activity::Error),
    ];
    for (name, state, activity) in all {
        let json = std::format!(r#"{{"agent_state":"{name}"}}"#);
        let s = DeviceState::parse(json.as_bytes()).unwrap();
        assert_eq!(s.agent_state, state, "{name}");
        assert_eq!(state.as_str(), name);
        assert_eq!(state.activity(), activity, "{name}");
    }
}

#[test]
fn unknown_or_missing_agent_state_is_unknown() {
    for json in [
        &br#"{"agent_state":"Thinking"}"#[..],
        br#"{"agent_state":"a state name far longer than any known state name"}"#,
        br#"{"agent_state":null}"#,
        br#"{}"#,
    ] {
        let s = DeviceState::parse(json).unwrap();
        assert_eq!(s.agent_state, AgentState::Unknown);
        assert_eq!(s.activity(), Activity::Idle);
    }
}

#[test]
fn nulls_and_missing_fields_keep_defaults() {
    let json = br#"{"message_count":null,"title":null,"outstanding_tool_calls":null,"total_usage":null,"session_ended":null}"#;
    assert_eq!(DeviceState::parse(json).unwrap(), DeviceState::default());
    let json = br#"{"total_usage":{"total_cost_usd":null,"input_tokens":5}}"#;
    let s = DeviceState::parse(json).unwrap();
    assert_eq!(s.input_tokens, 5);
    assert_eq!(s.total_cost_micro_usd, 0);
}

#[test]
fn ended_session_shows_ended() {
    let s = DeviceState::parse(br#"{"agent_state":"Ready","session_ended":true}"#).unwrap();
    assert_eq!(s.activity(), Activity::Ended);
}

#[test]
fn whitespace_between_tokens_is_fine() {
    let json = b" { \"message_count\" : 3 ,\n \"x\" : [ 1 , { } ] , \"title\" : \"t\" } ";
    let s = DeviceState::parse(json).unwrap();
    assert_eq!((s.message_count, s.title.as_str()), (3, "t"));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let cases: &[(&[u8], StateError)] = &[
        (b"", StateError::Truncated),
        (b"{", StateError::Truncated),
        (br#"{"title":"abc"#, StateError::Truncated),
        (b"[]", StateError::Invalid),
        (b"null", StateError::Invalid),
        (br#"{"message_count":"12"}"#, StateError::Invalid),
        (br#"{"message_count":-1}"#, StateError::Invalid),
        (br#"{"title":5}"#, StateError::Invalid),
        (br#"{"a":1,}"#, StateError::Invalid),
        (br#"{"a":1} x"#, StateError::Invalid),
    ];
    for (json, err) in cases {
        assert_eq!(
            DeviceState::parse(json),
            Err(*err),
            "{:?}",
            std::str::from_utf8(json)
        );
    }
    // Every prefix of a real State fails cleanly (or parses, for the full text).
    for end in 0..FULL_STATE.len() {
        assert!(
            DeviceState::parse(&FULL_STATE.as_bytes()[..end]).is_err(),
            "prefix {end}"
        );
    }
}

#[test]
fn cost_is_read_as_exact_micro_dollars() {
    let cases: &[(&str, u64)] = &[
        ("0", 0),
        ("0.0", 0),
        ("12.375", 12_375_000),
        ("0.25", 250_000),
        ("7", 7_000_000),
        ("0.000001", 1),
        ("1e2", 100_000_000),
        ("1E+2", 100_000_000),
        ("1.5e-3", 1_500),
        ("15e-4", 1_500),
        ("0.0015E3", 1_500_000),
        ("123456789.123456", 123_456_789_123_456),
        // Past the sixth decimal: half up.
        ("0.0000005", 1),
        ("0.00000049", 0),
        ("0.0000015", 2),
        ("123.4567895", 123_456_790),
        ("5e-7", 1),
        ("1e-7", 0),
        ("0.00000000000000000000000000001", 0),
        ("1e-99999999999999999999", 0),
        // Negative costs read as 0.
        ("-0", 0),
        ("-0.5", 0),
        ("-1e3", 0),
        // Too large for u64 micro-dollars: saturates.
        ("18446744073710", u64::MAX),
        ("1e300", u64::MAX),
        ("1e99999999999999999999", u64::MAX),
        ("100000000000000000000000000000000000000", u64::MAX),
        // Leading zeros (not strict JSON) and zeros with huge exponents are harmless.
        ("00.5", 500_000),
        ("0e999", 0),
    ];
    for &(token, micros) in cases {
        assert_eq!(micro_usd(token.as_bytes()), Some(micros), "{token}");
        let json = std::format!(r#"{{"total_usage":{{"total_cost_usd":{token}}}}}"#);
        let s = DeviceState::parse(json.as_bytes()).unwrap();
        assert_eq!(s.total_cost_micro_usd, micros, "{json}");
    }
    // Every way of writing whole micro-dollars reads back exactly.
    for m in (0..2_000_000u64)
        .step_by(9_973)
        .chain([u64::MAX / 1_000_000 * 1_000_000])
    {
        for token in [
            std::format!("{}.{:06}", m / 1_000_000, m % 1_000_000),
            std::format!("{m}e-6"),
            std::format!("{m}000E-9"),
        ] {
            assert_eq!(micro_usd(token.as_bytes()), Some(m), "{token}");
        }
    }
}

#[test]
fn cost_that_is_not_a_number_is_an_error() {
    for token in [
        "", "-", ".", "1.", ".5", "1e", "1e+", "1.2.3", "1x", "--1", "+1", "0x10", "1 2", "NaN",
        "Infinity", "1e5.5",
    ] {
        assert_eq!(micro_usd(token.as_bytes()), None, "{token:?}");
    }
    for value in [
        r#""1.5""#, "true", "[1]", "{}", "1.5x", "1 2", "-", "NaN", "1e", "1..5",
    ] {
        let json = std::format!(r#"{{"total_usage":{{"total_cost_usd":{value}}}}}"#);
        assert_eq!(
            DeviceState::parse(json.as_bytes()),
            Err(StateError::Invalid),
            "{json}"
        );
    }
}

#[test]
fn cost_is_found_whatever_surrounds_it() {
    let cases: &[(&str, u64)] = &[
        (
            r#"{"total_usage" : { "input_tokens":1 , "total_cost_usd" :	0.5 ,"x":[1]} }"#,
            500_000,
        ),
        ("{\"total_usage\":{\"total_cost_usd\"\n:\n2\n}}", 2_000_000),
        // The same key text inside a string, at the top level or in another object: ignored.
        (
            r#"{"title":"\"total_cost_usd\":99","total_cost_usd":98,"per_model":{"total_cost_usd":97},"total_usage":{"total_cost_usd":1}}"#,
            1_000_000,
        ),
        // The last `total_usage` counts, as for every other field.
        (
            r#"{"total_usage":{"total_cost_usd":1},"total_usage":{"input_tokens":1}}"#,
            0,
        ),
        (
            r#"{"total_usage":{"total_cost_usd":1,"total_cost_usd":3}}"#,
            3_000_000,
        ),
        (
            r#"{"total_usage":{"total_cost_usd":1},"total_usage":null}"#,
            0,
        ),
    ];
    for &(json, micros) in cases {
        let s = DeviceState::parse(json.as_bytes()).unwrap();
        assert_eq!(s.total_cost_micro_usd, micros, "{json}");
    }
}

#[test]
fn skipped_values_are_checked() {
    let ok: &[&str] = &[
        r#"{"x":[]}"#,
        r#"{"x":{}}"#,
        r#"{"x":[{},[],"",0,-1.5e3,true,false,null,{"a":{"b":[]}}]}"#,
        r#"{"x":"\\\"]}"}"#,
        r#"{"outstanding_tool_calls":["a","b","c","d",{"e":[1]},[null],5]}"#,
    ];
    for json in ok {
        assert!(DeviceState::parse(json.as_bytes()).is_ok(), "{json}");
    }
    let invalid: &[&str] = &[
        r#"{"x":[1}"#,
        r#"{"x":{"a":1]}"#,
        r#"{"x":[1,]}"#,
        r#"{"x":{"a":1,}}"#,
        r#"{"x":{"a"}}"#,
        r#"{"x":{1:2}}"#,
        r#"{"x":[1 2]}"#,
        r#"{"x":tru}"#,
        r#"{"x":nul}"#,
        r#"{"x":01.}"#,
        r#"{"x":}"#,
        r#"{"x":'a'}"#,
        r#"{"title":nil}"#,
        r#"{"outstanding_tool_calls":["a",5]}"#,
        r#"{"outstanding_tool_calls":"a"}"#,
        r#"{"message_count":18446744073709551616}"#,
        r#"{"message_count":1.5}"#,
        r#"{"message_count":1e3}"#,
        r#"{"session_ended":1}"#,
        r#"{"total_usage":5}"#,
        r#"{"a":1}}"#,
    ];
    for json in invalid {
        assert_eq!(
            DeviceState::parse(json.as_bytes()),
            Err(StateError::Invalid),
            "{json}"
        );
    }
    assert_eq!(
        DeviceState::parse(b"{\"title\":\"\xff\"}"),
        Err(StateError::Invalid)
    );
    // The server counts in u64; past `u32::MAX` the device saturates instead of refusing.
    for json in [
        &br#"{"outstanding_llm_calls":4294967295}"#[..],
        br#"{"outstanding_llm_calls":4294967296}"#,
    ] {
        assert_eq!(
            DeviceState::parse(json).unwrap().outstanding_llm_calls,
            u32::MAX
        );
    }
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let nested = |depth: usize| {
        std::format!(
            r#"{{"x":{}{},"title":"t"}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let s = DeviceState::parse(nested(MAX_DEPTH as usize).as_bytes()).unwrap();
    assert_eq!(s.title.as_str(), "t");
    assert_eq!(
        DeviceState::parse(nested(MAX_DEPTH as usize + 1).as_bytes()),
        Err(StateError::Invalid)
    );
    // A whole buffer of openers: refused at the limit, not after a million stack frames.
    let json = std::format!(r#"{{"x":{}"#, "[{\"a\":".repeat(500_000));
    assert_eq!(
        DeviceState::parse(json.as_bytes()),
        Err(StateError::Invalid)
    );
}

#[test]
fn mutated_states_never_panic() {
    // Seeded xorshift: the same cases every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"{}[]\":,\\ 0123456789.eE+-tfnul\xc3\xa9x";
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut json = FULL_STATE.as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % json.len() as u64) as usize;
            let b = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 => json[at] = b,
                1 => json.insert(at, b),
                _ => {
                    json.remove(at);
                }
            }
        }
        if DeviceState::parse(&json).is_ok() {
            ok += 1;
        }
    }
    // Most single-byte changes land in strings or ignored parts and still parse.
    assert!(ok > 1_000, "{ok}");
}

#[test]
fn bad_escapes_become_replacement_chars() {
    let cases: &[(&str, &str)] = &[
        (r#"a\u00zzb"#, "a\u{FFFD}00zzb"),
        (r#"\u12"#, "\u{FFFD}12"),
        (r#"\udc00x"#, "\u{FFFD}x"),
        (r#"\ud83d\u0041"#, "\u{FFFD}A"),
        (r#"\q\/"#, "q/"),
        ("\\\u{e9}", "\u{FFFD}\u{e9}"),
    ];
    for (raw, decoded) in cases {
        let json = std::format!(r#"{{"title":"{raw}"}}"#);
        let s = DeviceState::parse(json.as_bytes()).unwrap();
        assert_eq!(s.title.as_str(), *decoded, "{raw}");
    }
    // An escape that decodes to a char that does not fit whole ends the string there.
    let json = std::format!(r#"{{"title":"{}\u00e9tail"}}"#, "x".repeat(TITLE_LEN - 1));
    let s = DeviceState::parse(json.as_bytes()).unwrap();
    assert_eq!(s.title.as_str(), "x".repeat(TITLE_LEN - 1));
}

/// Found by the differential test against serde_json (`tests/it/status_json.rs`): a key
/// spelled with escapes is the key it decodes to, as in any JSON reader.
#[test]
fn escaped_keys_are_the_keys_they_spell() {
    let json = br#"{"\u0074itle":"t","ep\u006Fch":"e","total_usage":{"input\u005ftokens":7}}"#;
    let s = DeviceState::parse(json).unwrap();
    assert_eq!((s.title.as_str(), s.epoch.as_str()), ("t", "e"));
    assert_eq!(s.input_tokens, 7);
    assert_eq!(
        top_level_str(r#"{"\u0065poch":"e"}"#, "epoch"),
        Some("e"),
        "found"
    );
    // A key longer than any known one never matches a known one, however it is cut.
    for key in [
        "outstanding_tool_calls\u{e9}",
        "outstanding_tool_calls\u{1F600}",
        "outstanding_tool_callsx",
        "title\0",
    ] {
        let json = std::format!(r#"{{"{key}":5}}"#);
        assert_eq!(
            DeviceState::parse(json.as_bytes()),
            Ok(DeviceState::default()),
            "{key}"
        );
    }
}

/// Found by the differential test: a repeated `epoch` is read as the last one, by the status
/// and by the follow session's epoch scan alike (serde_json keeps the last one too).
#[test]
fn repeated_epoch_the_last_one_counts() {
    let json = r#"{"epoch":"a","title":"t","epoch":"b"}"#;
    assert_eq!(
        DeviceState::parse(json.as_bytes()).unwrap().epoch.as_str(),
        "b"
    );
    assert_eq!(top_level_str(json, "epoch"), Some("b"));
    // A later `null` (or any other value) means there is no epoch string.
    assert_eq!(
        top_level_str(r#"{"epoch":"a","epoch":null}"#, "epoch"),
        None
    );
    // Cut or broken after an epoch: the epoch read before the break stands (documented).
    assert_eq!(
        top_level_str(r#"{"epoch":"a","title":"no end"#, "epoch"),
        Some("a")
    );
    assert_eq!(top_level_str(r#"{"epoch":"a","x":]"#, "epoch"), Some("a"));
}

#[test]
fn key_len_covers_every_key_read() {
    for key in STATE_KEYS.iter().chain(&USAGE_KEYS).chain(&["epoch"]) {
        assert!(key.len() <= KEY_LEN, "{key}");
        assert_eq!(key_index(key, &[key]), 0);
    }
}

#[test]
fn a_counter_beyond_32_bits_saturates() {
    // The server counts in u64 (PROTOCOL.md §4): saturate rather than refuse the whole State.
    let s = DeviceState::parse(br#"{"outstanding_llm_calls":4294967296}"#).unwrap();
    assert_eq!(s.outstanding_llm_calls, u32::MAX);
    let s = DeviceState::parse(br#"{"outstanding_llm_calls":18446744073709551615}"#).unwrap();
    assert_eq!(s.outstanding_llm_calls, u32::MAX);
}

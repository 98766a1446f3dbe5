//! The device's JSON reader (`sse_core::agent::state`) against serde_json: generated State documents
//! (the State's keys, random other keys, nesting up to the reader's bound, strings with every
//! escape and unicode, numbers of every shape) read the same; their mutations and truncations
//! are refused wherever serde_json refuses them, except in the documented leniencies.
//!
//! The check itself is the `status_json` fuzz target's (`fuzz/fuzz_targets/status.rs`).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::string::{RegexGeneratorStrategy, string_regex};
use sse_core::agent::state::{DeviceState, MAX_DEPTH, StateError};

use crate::fuzz_corpus::status::{self as differential, LENIENCIES, Leniency, check, leniencies};

/// A JSON value as text is made of: strings and numbers are kept as the exact text written.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    /// A number's text.
    Num(String),
    /// A string's text between the quotes, escapes written out.
    Str(String),
    Arr(Vec<J>),
    /// Keys as written (escapes in them).
    Obj(Vec<(String, J)>),
}

/// Whitespace between tokens (and string contents), drawn from a seed so that a document
/// renders the same every time.
struct Ws(u64);

impl Ws {
    /// xorshift64
    fn bits(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn next(&mut self) -> &'static str {
        match self.bits() % 16 {
            0 => " ",
            1 => "\n  ",
            2 => "\t",
            3 => "\r\n",
            _ => "",
        }
    }
}

fn render(j: &J, ws: &mut Ws, out: &mut String) {
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => out.push_str(n),
        J::Str(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws.next());
                render(item, ws, out);
                out.push_str(ws.next());
            }
            out.push(']');
        }
        J::Obj(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws.next());
                out.push('"');
                out.push_str(key);
                out.push('"');
                out.push_str(ws.next());
                out.push(':');
                out.push_str(ws.next());
                render(value, ws, out);
                out.push_str(ws.next());
            }
            out.push('}');
        }
    }
}

fn document(top: &J, seed: u64) -> Vec<u8> {
    let mut ws = Ws(seed | 1);
    let mut out = String::from(ws.next());
    render(top, &mut ws, &mut out);
    out.push_str(ws.next());
    out.into_bytes()
}

/// A compiled regex strategy (a `&str` strategy compiles its regex for every value).
fn re(regex: &str) -> RegexGeneratorStrategy<String> {
    string_regex(regex).expect("a valid regex")
}

/// One char of a string, written as JSON allows: itself, or any of JSON's escapes for it;
/// chosen by `r` (a string is built from a seed: proptest's per-char strategies are slow).
fn string_piece(r: &mut Ws) -> String {
    let x = r.bits();
    let any_char = || char::from_u32((x >> 8) as u32 % 0x11_0000).unwrap_or('\u{FFFD}');
    match x % 16 {
        0..=8 => {
            let plain = b"abcxyzABCXYZ0189 _.:/-";
            char::from(plain[(x >> 8) as usize % plain.len()]).into()
        }
        9 | 10 => {
            let c = any_char();
            if matches!(c, '"' | '\\') || c < ' ' {
                "\u{e9}".into()
            } else {
                c.into()
            }
        }
        11 => {
            ["\u{e9}", "\u{4e2d}", "\u{1F600}", "\u{feff}", "\u{7f}"][(x >> 8) as usize % 5].into()
        }
        12 | 13 => {
            [r#"\""#, r"\\", r"\/", r"\b", r"\f", r"\n", r"\r", r"\t"][(x >> 8) as usize % 8].into()
        }
        _ => {
            // Any char by its code: BMP as one escape, the rest as a surrogate pair, hex in
            // either case.
            let mut units = [0u16; 2];
            let text: String = any_char()
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect();
            if x >> 40 & 1 == 1 {
                text.to_uppercase().replace("\\U", "\\u")
            } else {
                text
            }
        }
    }
}

/// A string's text: short, or long enough to be cut at every capacity (32, 40, 64 bytes).
fn string() -> impl Strategy<Value = String> {
    (any::<u64>(), prop_oneof![0..8usize, 20..90usize]).prop_map(|(seed, len)| {
        let mut r = Ws(seed | 1);
        (0..len).map(|_| string_piece(&mut r)).collect()
    })
}

/// Numbers of every JSON shape: sign, integer part, fraction, exponent with either sign.
fn number() -> impl Strategy<Value = String> {
    let int = prop_oneof![Just("0".to_owned()), re("[1-9][0-9]{0,22}")];
    let frac = prop::option::of(re("\\.[0-9]{1,22}"));
    let exp = prop::option::of((
        prop::sample::select(vec!["e", "E"]),
        prop::sample::select(vec!["", "+", "-"]),
        0..280u32,
    ));
    (any::<bool>(), int, frac, exp).prop_map(|(neg, int, frac, exp)| {
        let mut n = String::new();
        if neg {
            n.push('-');
        }
        n.push_str(&int);
        n.push_str(frac.as_deref().unwrap_or(""));
        if let Some((e, sign, digits)) = exp {
            n.push_str(&format!("{e}{sign}{digits}"));
        }
        n
    })
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        any::<u64>().prop_map(|n| J::Num(n.to_string())),
        string().prop_map(J::Str),
    ]
}

/// A key that is not one the reader looks for (as far as anyone can tell from its text).
fn other_key() -> impl Strategy<Value = String> {
    prop_oneof![re("[a-z_]{1,12}"), string()]
}

/// Any value, nested a few levels.
fn any_value() -> impl Strategy<Value = J> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            prop::collection::vec((other_key(), inner), 0..6).prop_map(J::Obj),
        ]
    })
}

/// A value nested exactly `levels` containers deep (arrays and objects mixed).
fn nest(levels: usize, shape: u64, leaf: J) -> J {
    (0..levels).fold(leaf, |inner, i| {
        if shape >> (i % 64) & 1 == 1 {
            J::Obj(vec![("k".into(), inner)])
        } else {
            J::Arr(vec![J::Num("1".into()), inner])
        }
    })
}

/// An unknown member's value: mostly small, sometimes as deep as the reader allows.
fn unknown_value() -> impl Strategy<Value = J> {
    prop_oneof![
        8 => any_value(),
        1 => (any::<u64>(), scalar()).prop_map(|(shape, leaf)| nest(MAX_DEPTH as usize, shape, leaf)),
    ]
}

/// `key` as written: plain, or with some of its letters escaped (`\u0074itle`).
fn spelled(key: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(key.to_owned()),
        1 => any::<u64>().prop_map(move |mask| {
            key.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> (i % 64) & 1 == 1 { format!("\\u{:04x}", c as u32) } else { c.into() }
                })
                .collect()
        }),
    ]
}

fn uint() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => any::<u64>().prop_map(|n| J::Num(n.to_string())),
        4 => (0..5_000u64).prop_map(|n| J::Num(n.to_string())),
        1 => Just(J::Null),
    ]
}

fn u32_value() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => (0..8u32).prop_map(|n| J::Num(n.to_string())),
        2 => any::<u32>().prop_map(|n| J::Num(n.to_string())),
        1 => Just(J::Null),
    ]
}

fn text_value() -> impl Strategy<Value = J> {
    prop_oneof![6 => string().prop_map(J::Str), 1 => Just(J::Null)]
}

fn agent_state() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "Ready", "WaitingForUserInput", "SendingToLLM", "ProcessingLLMResponse",
            "ToolUseRequested", "RunningTool", "EndOfTurn", "Cancelled", "BudgetExceeded",
            "Error", "Unknown", "ready",
        ])
        .prop_map(|s| J::Str(s.into())),
        1 => text_value(),
    ]
}

fn flag() -> impl Strategy<Value = J> {
    prop_oneof![4 => any::<bool>().prop_map(J::Bool), 1 => Just(J::Null)]
}

fn tools() -> impl Strategy<Value = J> {
    prop_oneof![
        6 => (
            prop::collection::vec(string().prop_map(J::Str), 0..=4),
            prop::collection::vec(any_value(), 0..3),
        )
            .prop_map(|(names, rest)| {
                // Past the fourth name, anything goes (those are skipped).
                let mut items = names;
                if items.len() == 4 {
                    items.extend(rest);
                }
                J::Arr(items)
            }),
        1 => Just(J::Null),
    ]
}

fn usage() -> impl Strategy<Value = J> {
    let member = prop_oneof![
        (spelled("input_tokens"), uint()),
        (spelled("output_tokens"), uint()),
        (
            spelled("total_cost_usd"),
            prop_oneof![4 => number().prop_map(J::Num), 1 => Just(J::Null)]
        ),
        (other_key(), unknown_value()),
    ];
    prop_oneof![
        6 => prop::collection::vec(member, 0..6).prop_map(J::Obj),
        1 => Just(J::Null),
    ]
}

/// A State member: one of the keys the reader reads with a value of its type (the common
/// case), any key with any value (a wrong type is `Invalid` on both sides), or an unknown one.
fn member() -> impl Strategy<Value = (String, J)> {
    prop_oneof![
        2 => (spelled("message_count"), uint()),
        2 => (spelled("epoch"), text_value()),
        2 => (spelled("title"), text_value()),
        2 => (spelled("agent_state"), agent_state()),
        2 => (spelled("outstanding_llm_calls"), u32_value()),
        2 => (spelled("outstanding_tool_calls"), tools()),
        2 => (spelled("total_usage"), usage()),
        2 => (spelled("session_ended"), flag()),
        2 => (spelled("can_send_messages"), flag()),
        6 => (other_key(), unknown_value()),
        1 => (
            prop::sample::select(vec![
                "message_count", "epoch", "title", "agent_state", "outstanding_llm_calls",
                "outstanding_tool_calls", "total_usage", "session_ended", "can_send_messages",
            ])
            .prop_map(String::from),
            any_value(),
        ),
    ]
}

/// A State document and its whitespace seed.
fn state() -> impl Strategy<Value = (J, u64)> {
    (
        prop::collection::vec(member(), 0..14).prop_map(J::Obj),
        any::<u64>(),
    )
}

/// Bytes a mutation may put in: JSON's punctuation, digits, letters of its literals, escapes,
/// control characters, and bytes of multibyte and invalid UTF-8.
const ALPHABET: &[u8] = b"{}[]\":,\\ \t\n0123456789.eE+-truefalsnu/x\0\x01\x1f\xc3\xa9\xff\xed";

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop::sample::select(ALPHABET);
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(json: &mut Vec<u8>, m: &Mutation) {
    if json.is_empty() {
        return;
    }
    match m {
        Mutation::Replace(i, b) => {
            let at = i.index(json.len());
            json[at] = *b;
        }
        Mutation::Insert(i, b) => json.insert(i.index(json.len() + 1), *b),
        Mutation::Remove(i) => {
            json.remove(i.index(json.len()));
        }
        Mutation::Truncate(i) => json.truncate(i.index(json.len())),
    }
}

// A generated State costs some milliseconds (in a debug build), its checks microseconds: each
// case checks many cuts and mutations of one document.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_states_read_as_serde_json_reads_them((top, seed) in state()) {
        let json = document(&top, seed);
        prop_assert!(
            differential::model(&json).is_some(),
            "the generator wrote invalid JSON: {}", String::from_utf8_lossy(&json)
        );
        check(&json);
    }

    #[test]
    fn truncated_states_are_truncated(
        (top, seed) in state(),
        cuts in prop::collection::vec(any::<Index>(), 16),
    ) {
        let json = document(&top, seed);
        let whole = DeviceState::parse(&json);
        let end = json.trim_ascii_end().len();
        for cut in cuts {
            let cut = &json[..cut.index(end)];
            check(cut);
            // A cut State is refused as truncated, unless a wrong type came first.
            let read = DeviceState::parse(cut);
            if whole.is_ok() {
                prop_assert_eq!(read, Err(StateError::Truncated));
            } else {
                prop_assert!(read.is_err());
            }
        }
    }

    #[test]
    fn mutated_states_are_refused_where_serde_json_refuses(
        (top, seed) in state(),
        variants in prop::collection::vec(prop::collection::vec(mutation(), 1..4), 16),
    ) {
        let json = document(&top, seed);
        for mutations in &variants {
            let mut json = json.clone();
            for m in mutations {
                mutate(&mut json, m);
            }
            check(&json);
        }
    }
}

/// Each documented leniency: accepted by the reader, refused by serde_json, and recognised by
/// the check's lexer as that leniency and no other.
#[test]
fn every_leniency_is_listed_and_shown() {
    let examples: &[(Leniency, &[u8])] = &[
        (Leniency::ControlChar, b"{\"title\":\"a\tb\"}"),
        (Leniency::ControlChar, b"{\"x\":\"\0\"}"),
        (Leniency::BadEscape, br#"{"title":"\q"}"#),
        (Leniency::BadEscape, br#"{"title":"\u12"}"#),
        (Leniency::BadEscape, br#"{"title":"\ud800"}"#),
        (Leniency::BadEscape, br#"{"title":"\udc00x"}"#),
        (Leniency::LeadingZero, br#"{"message_count":007}"#),
        (Leniency::LeadingZero, br#"{"x":-00.5}"#),
        (
            Leniency::OutOfRange,
            br#"{"total_usage":{"total_cost_usd":1e400}}"#,
        ),
        (Leniency::OutOfRange, br#"{"x":[-2e308]}"#),
    ];
    for &(leniency, json) in examples {
        let text = String::from_utf8_lossy(json);
        assert!(LENIENCIES.contains(&leniency));
        assert!(DeviceState::parse(json).is_ok(), "{text}");
        assert!(differential::model(json).is_none(), "{text}");
        assert_eq!(leniencies(json), [leniency], "{text}");
        check(json);
    }
    for leniency in LENIENCIES {
        assert!(examples.iter().any(|(l, _)| *l == leniency), "{leniency:?}");
    }
}

/// Inputs the differential check found, kept as regression cases.
#[test]
fn found_by_the_differential_check() {
    let cases: &[&[u8]] = &[
        // The follow session's epoch scan took the first `epoch`, serde_json and the status
        // the last.
        br#"{"epoch":"Aa-","message_count":0,"epoch":"0a_aa"}"#,
        br#"{"epoch":"a","epoch":null}"#,
        // Keys were compared undecoded: `\u0065poch` was not `epoch`.
        br#"{"\u0065poch":""}"#,
        br#"{"\u0074itle":"t","total_usage":{"input\u005Ftokens":7}}"#,
    ];
    for json in cases {
        check(json);
    }
}

/// Deeper than the reader's bound is refused (serde_json allows 128 levels); at the bound it
/// reads as serde_json does.
#[test]
fn nesting_at_and_past_the_bound() {
    let at = document(
        &J::Obj(vec![(
            "x".into(),
            nest(MAX_DEPTH as usize, 0b1011, J::Null),
        )]),
        1,
    );
    check(&at);
    assert!(DeviceState::parse(&at).is_ok());
    let past = document(
        &J::Obj(vec![(
            "x".into(),
            nest(MAX_DEPTH as usize + 1, 0b1011, J::Null),
        )]),
        1,
    );
    assert!(differential::model(&past).is_some());
    assert_eq!(DeviceState::parse(&past), Err(StateError::Invalid));
}

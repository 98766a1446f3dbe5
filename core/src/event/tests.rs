use super::*;

#[test]
fn names_and_ids_refuse_cr_lf_nul() {
    for (s, err) in [
        ("a\rb", InvalidField::ContainsCr),
        ("a\nb", InvalidField::ContainsLf),
        ("a\0b", InvalidField::ContainsNul),
        ("\n\r", InvalidField::ContainsLf),
    ] {
        assert_eq!(EventName::new(s), Err(err), "{s:?}");
        assert_eq!(EventId::new(s), Err(err), "{s:?}");
    }
}

#[test]
fn comments_refuse_cr_lf_but_allow_nul() {
    assert_eq!(Comment::new("x\r"), Err(InvalidField::ContainsCr));
    assert_eq!(Comment::new("x\n"), Err(InvalidField::ContainsLf));
    assert_eq!(Comment::new("a\0b").map(|c| c.as_str()), Ok("a\0b"));
}

#[test]
fn valid_values_kept_verbatim() {
    assert_eq!(EventName::new("state").unwrap().as_str(), "state");
    assert_eq!(EventId::new("").unwrap().as_str(), "");
    assert_eq!(EventId::new(" 42 \u{e9}").unwrap().as_str(), " 42 \u{e9}");
}

#[test]
fn construction_is_const() {
    const NAME: EventName<'static> = match EventName::new("heartbeat") {
        Ok(n) => n,
        Err(_) => panic!("invalid"),
    };
    const FRAME: Frame<'static> = Frame::new().event(NAME).data("1");
    assert_eq!(FRAME.event.map(|e| e.as_str()), Some("heartbeat"));
    assert_eq!(FRAME.data, Some("1"));
    assert_eq!(Frame::new(), Frame::default());
}

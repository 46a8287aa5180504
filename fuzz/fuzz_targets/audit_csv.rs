//! The audit log's CSV export: whatever names and details events carry, the export reads
//! back as one record per event with the same fields, and no cell a spreadsheet would
//! run as a formula.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::{audit::{Entry, FORMULA_STARTS, Named, to_csv}, values::UserId};

fuzz_target!(|events: Vec<(String, String, String, Option<String>)>| {
    let entries: Vec<Entry> = events
        .iter()
        .enumerate()
        .map(|(i, (user, action, details, ip))| Entry {
            id: i as i64,
            lane: (i % 16) as i32,
            seq: i as i64 + 1,
            time: time::OffsetDateTime::UNIX_EPOCH,
            user: Some(Named { id: UserId(1), username: Some(user.clone()) }),
            acting_as: None,
            subject: None,
            action: action.clone(),
            details: serde_json::Value::String(details.clone()),
            ip: ip.clone(),
            prev_hash: None,
            hash: String::new(),
        })
        .collect();
    let Ok(text) = to_csv(&entries) else {
        return;
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("readable CSV")).collect();
    assert_eq!(records.len(), entries.len());
    for (record, (user, _, _, _)) in records.iter().zip(&events) {
        let cell = record.get(1).expect("a user column");
        assert!(!cell.starts_with(FORMULA_STARTS), "a formula: {cell:?}");
        assert!(cell == user || *cell == format!("'{user}"), "{user:?} is shown as {cell:?}");
    }
});

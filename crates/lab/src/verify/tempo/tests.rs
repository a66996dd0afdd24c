//! The search parser on the examples of Tempo's own API page at the pinned tag v3.0.3
//! (grafana/tempo, commit 1900ed7bb5cad1a3edc285783d7d4ac4278337dc,
//! docs/sources/tempo/api_docs/_index.md, "Search" → "Example of TraceQL search" and "Example of
//! tags-based search"). Copied as printed there, with one fix said below. Tempo itself cannot run here:
//! this is what is verified of the Tempo half, and docs/verify.md says so.

use super::*;

/// "Example of TraceQL search". As printed, the page's JSON is invalid: the trace object is never
/// closed (`]` follows `spanSets`' closing `]` directly). The `}` added after `spanSets` is the only change.
const TRACEQL_EXAMPLE: &str = r#"{
  "traces": [
    {
      "traceID": "2f3e0cee77ae5dc9c17ade3689eb2e54",
      "rootServiceName": "shop-backend",
      "rootTraceName": "update-billing",
      "startTimeUnixNano": "1684778327699392724",
      "durationMs": 557,
      "spanSets": [
        {
          "spans": [
            {
              "spanID": "563d623c76514f8e",
              "startTimeUnixNano": "1684778327735077898",
              "durationNanos": "446979497",
              "attributes": [
                {
                  "key": "status",
                  "value": {
                    "stringValue": "error"
                  }
                }
              ]
            }
          ],
          "matched": 1
        }
      ]
    }
  ],
  "metrics": {
    "totalBlocks": 13
  }
}"#;

/// "Example of tags-based search", as printed.
const TAGS_EXAMPLE: &str = r#"{
  "traces": [
    {
      "traceID": "d6e9329d67b6146a",
      "rootServiceName": "frontend",
      "rootTraceName": "/cart",
      "startTimeUnixNano": "1634727903545000000",
      "durationMs": 611
    },
    {
      "traceID": "1b1ba462b409200d",
      "rootServiceName": "frontend",
      "rootTraceName": "/cart",
      "startTimeUnixNano": "1634727775935000000",
      "durationMs": 611
    }
  ],
  "metrics": {
    "inspectedTraces": 3100,
    "inspectedBytes": "3811736",
    "totalBlocks": 3
  }
}"#;

#[test]
fn the_documented_traceql_answer_parses() {
    let r = parse(TRACEQL_EXAMPLE).unwrap();
    assert_eq!(r.traces.len(), 1);
    let t = &r.traces[0];
    assert_eq!(t.trace_id, "2f3e0cee77ae5dc9c17ade3689eb2e54");
    assert_eq!(t.root_service_name.as_deref(), Some("shop-backend"));
    assert_eq!(t.root_trace_name.as_deref(), Some("update-billing"));
    assert_eq!(t.duration_ms, Some(557));
    assert_eq!(t.matched(), 1);
    assert_eq!(t.span_sets[0].spans[0]["spanID"], "563d623c76514f8e");
    let start = t.start_s().unwrap();
    assert!((start - 1_684_778_327.699).abs() < 0.001, "{start}");
    assert_eq!(r.metrics.unwrap()["totalBlocks"], 13);
}

#[test]
fn the_documented_example_as_printed_is_not_json() {
    // Proof that the fix above is needed (and that the parser refuses broken input).
    let printed = TRACEQL_EXAMPLE.replacen("      ]\n    }\n  ],", "      ]\n  ],", 1);
    assert_ne!(printed, TRACEQL_EXAMPLE);
    assert!(parse(&printed).is_err());
}

#[test]
fn the_documented_tags_answer_parses() {
    let r = parse(TAGS_EXAMPLE).unwrap();
    let ids: Vec<&str> = r.traces.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(ids, ["d6e9329d67b6146a", "1b1ba462b409200d"]);
    assert!(
        r.traces
            .iter()
            .all(|t| t.matched() == 0 && t.span_sets.is_empty())
    );
    let start = r.traces[1].start_s().unwrap();
    assert!((start - 1_634_727_775.935).abs() < 1e-3, "{start}");
    // No traces: an empty answer is zero traces, not an error.
    assert!(
        parse(r#"{"traces": [], "metrics": {}}"#)
            .unwrap()
            .traces
            .is_empty()
    );
    assert!(parse("{}").unwrap().traces.is_empty());
}

#[test]
fn the_search_is_a_traceql_query_on_the_service_name() {
    assert_eq!(
        query_for("catalog"),
        r#"{ resource.service.name = "catalog" }"#
    );
    assert_eq!(
        search_path("catalog", 10, 20, 5),
        // form-encoded: Tempo (Go's url.ParseQuery) reads `+` as a space
        "/api/search?q=%7B+resource.service.name+%3D+%22catalog%22+%7D&start=10&end=20&limit=5"
    );
}

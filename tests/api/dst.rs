//! A cron job's own DST policy (issue 16, item 3): `trigger.dst` is stored, shown, survives a
//! restart, decides the next run and shows in the preview around a change (the combinations
//! themselves are checked against a brute-force oracle in `schedule/trigger.rs`); a job without
//! one shows none and follows the Time rules; bad values are 422s naming the field.

use serde_json::{Value, json};

use crate::helpers::*;

crate::both_engines!(
    a_dst_policy_is_kept_and_moves_the_fires_it_should,
    bad_dst_policies_are_refused_naming_the_field,
);

/// A daily 02:30 in Berlin on the fall-back day of 2027 (31 October), with `dst` if given.
fn fall_back_job(id: &str, dst: Option<Value>) -> Value {
    let mut trigger = json!({"type": "cron", "expr": "30 2 31 10 *", "timezone": "Europe/Berlin"});
    if let Some(dst) = dst {
        trigger["dst"] = dst;
    }
    json!({"id": id, "trigger": trigger, "action": {"type": "noop"}})
}

/// The preview of `id` from `from`: (utc, dst mark) of each time.
async fn preview(app: &TestApp, id: &str, from: &str, count: u32) -> Vec<(String, Value)> {
    let (status, body) = app
        .get(&format!("/jobs/{id}/preview?count={count}&from={from}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["times"]
        .as_array()
        .expect("times")
        .iter()
        .map(|t| {
            (
                t["utc"].as_str().expect("utc").to_string(),
                t["dst"].clone(),
            )
        })
        .collect()
}

/// `fold: last` fires at the second 02:30 (01:30 UTC, `repeated`), the default at the first
/// (00:30 UTC), `both` at both; `gap: skip` drops the 02:30 that does not exist on the
/// spring-forward day. All of it is stored and read back after a restart.
async fn a_dst_policy_is_kept_and_moves_the_fires_it_should(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let last = app
        .create_job(&fall_back_job(
            "last",
            Some(json!({"gap": "skip", "fold": "last"})),
        ))
        .await;
    assert_eq!(
        last["trigger"]["dst"],
        json!({"gap": "skip", "fold": "last"})
    );
    assert_eq!(last["next_run_time"], "2027-10-31T01:30:00.000Z");
    let default = app.create_job(&fall_back_job("default", None)).await;
    assert_eq!(default["trigger"].get("dst"), None, "{default}");
    assert_eq!(default["next_run_time"], "2027-10-31T00:30:00.000Z");
    app.create_job(&fall_back_job("both", Some(json!({"fold": "both"}))))
        .await;

    let app = app.restart(AppOptions::default()).await;
    let (_, read) = app.get("/jobs/last").await;
    assert_eq!(
        read["data"]["trigger"]["dst"],
        json!({"gap": "skip", "fold": "last"}),
        "kept across a restart"
    );
    let from = "2027-10-30T00:00:00Z";
    assert_eq!(
        preview(&app, "last", from, 1).await,
        [("2027-10-31T01:30:00.000Z".to_string(), json!("repeated"))]
    );
    assert_eq!(
        preview(&app, "default", from, 1).await,
        [("2027-10-31T00:30:00.000Z".to_string(), Value::Null)]
    );
    assert_eq!(
        preview(&app, "both", from, 2).await,
        [
            ("2027-10-31T00:30:00.000Z".to_string(), Value::Null),
            ("2027-10-31T01:30:00.000Z".to_string(), json!("repeated"))
        ]
    );

    // 28 March 2027 is the spring-forward day: 02:30 does not exist.
    let spring = |dst: Value| {
        json!({"trigger": {"type": "cron", "expr": "30 2 28 3 *", "timezone": "Europe/Berlin",
                           "dst": dst}, "count": 1})
    };
    let (_, shifted) = app
        .post("/triggers/preview", &spring(json!({"gap": "shift"})))
        .await;
    assert_eq!(
        (
            &shifted["data"]["times"][0]["utc"],
            &shifted["data"]["times"][0]["dst"]
        ),
        (&json!("2027-03-28T01:00:00.000Z"), &json!("shifted"))
    );
    let (_, skipped) = app
        .post("/triggers/preview", &spring(json!({"gap": "skip"})))
        .await;
    assert_eq!(
        skipped["data"]["times"][0]["utc"], "2028-03-28T00:30:00.000Z",
        "the day without 02:30 is skipped: {skipped}"
    );
}

/// Unknown rules, a `dst` that is not an object, an unknown field in it and a `dst` on an
/// interval trigger are 422s naming the field; nothing is written.
async fn bad_dst_policies_are_refused_naming_the_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let cases = [
        (
            fall_back_job("a", Some(json!({"gap": "sometimes"}))),
            "trigger.dst.gap: must be `shift` or `skip`, got `sometimes`",
        ),
        (
            fall_back_job("a", Some(json!({"fold": "middle"}))),
            "trigger.dst.fold: must be `first`, `last` or `both`, got `middle`",
        ),
        (fall_back_job("a", Some(json!("skip"))), "trigger.dst"),
        (
            fall_back_job("a", Some(json!({"gap": "skip", "when": 1}))),
            "unknown field `when`",
        ),
        (
            json!({"id": "a", "trigger": {"type": "interval", "seconds": 60,
                                          "dst": {"gap": "skip"}},
                   "action": {"type": "noop"}}),
            "unknown field `dst`",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = app.post("/jobs", &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{body}: {text}");
    }
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);
}

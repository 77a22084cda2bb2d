//! API keys: only hashes, unique live names, revocation, provisioning from the environment.

use schedlite::model::Role;
use schedlite::store::StoreError;

use crate::engines::Db;
use crate::support::{hash, now, plus_ms};

crate::conformance!(
    keys_are_created_found_listed_and_revoked,
    a_live_name_is_unique_but_a_revoked_one_can_be_reused,
    touch_records_use_at_most_once_per_window,
    provisioning_changes_nothing_when_the_key_is_already_there,
    of_several_handles_racing_for_the_first_key_exactly_one_creates_it,
);

async fn keys_are_created_found_listed_and_revoked(db: Db) {
    let t = now();
    assert_eq!(db.store.count_keys().await.expect("count"), 0);
    let ops = db
        .store
        .create_key("ops", Role::Admin, &hash('a'), t)
        .await
        .expect("create");
    assert_eq!(
        (ops.name.as_str(), ops.role, ops.created_at),
        ("ops", Role::Admin, t)
    );
    assert_eq!((ops.last_used_at, ops.revoked_at), (None, None));
    db.store
        .create_key("watch", Role::Monitor, &hash('b'), t)
        .await
        .expect("create");
    let (found, stored) = db
        .store
        .find_key_by_hash(&hash('a'))
        .await
        .expect("find")
        .expect("key");
    assert_eq!((found, stored), (ops.clone(), hash('a')));
    assert_eq!(
        db.store.find_key_by_hash(&hash('c')).await.expect("find"),
        None
    );

    assert!(
        db.store
            .revoke_key("ops", plus_ms(t, 5))
            .await
            .expect("revoke")
    );
    assert!(
        !db.store
            .revoke_key("ops", plus_ms(t, 6))
            .await
            .expect("revoke again")
    );
    let (revoked, _) = db
        .store
        .find_key_by_hash(&hash('a'))
        .await
        .expect("find")
        .expect("key");
    assert_eq!(
        revoked.revoked_at,
        Some(plus_ms(t, 5)),
        "a revoked key is still found"
    );
    let names: Vec<_> = db
        .store
        .list_keys()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["ops", "watch"]);
    assert_eq!(db.store.count_keys().await.expect("count"), 2);
}

async fn a_live_name_is_unique_but_a_revoked_one_can_be_reused(db: Db) {
    let t = now();
    db.store
        .create_key("ops", Role::Admin, &hash('a'), t)
        .await
        .expect("create");
    let taken = db
        .store
        .create_key("ops", Role::Monitor, &hash('b'), t)
        .await;
    assert!(
        matches!(taken, Err(StoreError::KeyNameTaken(ref n)) if n == "ops"),
        "{taken:?}"
    );
    db.store.revoke_key("ops", t).await.expect("revoke");
    let again = db
        .store
        .create_key("ops", Role::Monitor, &hash('b'), t)
        .await
        .expect("reuse");
    assert_eq!(again.role, Role::Monitor);
}

async fn touch_records_use_at_most_once_per_window(db: Db) {
    let t = now();
    let key = db
        .store
        .create_key("k", Role::Admin, &hash('a'), t)
        .await
        .expect("create");
    let used = || {
        let store = db.store.clone();
        async move {
            let (info, _) = store
                .find_key_by_hash(&hash('a'))
                .await
                .expect("find")
                .expect("key");
            info.last_used_at
        }
    };
    let first = plus_ms(t, 1000);
    db.store
        .touch_key(key.id, first, plus_ms(first, -60_000))
        .await
        .expect("touch");
    assert_eq!(used().await, Some(first));
    // Within the window: unchanged.
    let soon = plus_ms(t, 2000);
    db.store
        .touch_key(key.id, soon, plus_ms(soon, -60_000))
        .await
        .expect("touch");
    assert_eq!(used().await, Some(first));
    // Past it: recorded.
    let later = plus_ms(t, 120_000);
    db.store
        .touch_key(key.id, later, plus_ms(later, -60_000))
        .await
        .expect("touch");
    assert_eq!(used().await, Some(later));
}

async fn provisioning_changes_nothing_when_the_key_is_already_there(db: Db) {
    let t = now();
    assert!(
        db.store
            .provision_key("env", Role::Admin, &hash('a'), t)
            .await
            .expect("first")
    );
    assert!(
        !db.store
            .provision_key("env", Role::Admin, &hash('a'), t)
            .await
            .expect("same")
    );
    assert_eq!(db.store.count_keys().await.expect("count"), 1);
    // A new hash for the name: the old key is revoked, the new one live.
    let later = plus_ms(t, 10);
    assert!(
        db.store
            .provision_key("env", Role::Admin, &hash('b'), later)
            .await
            .expect("new")
    );
    let (old, _) = db
        .store
        .find_key_by_hash(&hash('a'))
        .await
        .expect("find")
        .expect("old");
    assert_eq!(old.revoked_at, Some(later));
    let (new, _) = db
        .store
        .find_key_by_hash(&hash('b'))
        .await
        .expect("find")
        .expect("new");
    assert_eq!((new.revoked_at, new.role), (None, Role::Admin));
    // A new role for the same hash is a change too.
    assert!(
        db.store
            .provision_key("env", Role::Monitor, &hash('b'), later)
            .await
            .expect("role")
    );
    let (now_monitor, _) = db
        .store
        .find_key_by_hash(&hash('b'))
        .await
        .expect("find")
        .expect("key");
    assert_eq!(
        (now_monitor.role, now_monitor.revoked_at),
        (Role::Monitor, None)
    );
}

/// Four handles (as four processes starting together would hold) ask at once for the first
/// key, each with its own hash: exactly one creates it, and a later ask creates none.
async fn of_several_handles_racing_for_the_first_key_exactly_one_creates_it(db: Db) {
    let t = now();
    let mut handles = vec![db.store.clone()];
    for _ in 0..3 {
        handles.push(db.another_handle().await);
    }
    let asks = handles.iter().zip(['a', 'b', 'c', 'd']).map(|(store, c)| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_first_key("admin", Role::Admin, &hash(c), t)
                .await
                .expect("create the first key")
        })
    });
    let mut created = Vec::new();
    for ask in asks.collect::<Vec<_>>() {
        created.extend(ask.await.expect("task"));
    }
    assert_eq!(created.len(), 1, "first keys created: {created:?}");
    assert_eq!(
        (created[0].name.as_str(), created[0].role),
        ("admin", Role::Admin)
    );
    assert_eq!(db.store.count_keys().await.expect("count"), 1);
    let again = db
        .store
        .create_first_key("admin", Role::Admin, &hash('e'), plus_ms(t, 1))
        .await
        .expect("ask again");
    assert_eq!(again, None, "a key exists: no first key now");
    for store in &handles[1..] {
        store.close().await;
    }
}
